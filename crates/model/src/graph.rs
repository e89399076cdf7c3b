//! The computation-graph IR and its builder.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::tensor::Shape;
pub use crate::weight_data::WeightData;
use crate::window::{Gather, Window};
use crate::MAX_ABS;

/// Index of a node in [`Graph::nodes`] (nodes are stored in topological order).
pub type NodeId = usize;
/// Index of a weight in [`Graph::weights`].
pub type WeightId = usize;

/// An operation. Operands always refer to earlier nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// The model input (exactly one per graph, node 0).
    Input,
    /// `input (m x k) . weight (k x n)`.
    MatMul { input: NodeId, weight: WeightId },
    /// `input (m x k) . weight^T` for a weight stored `n x k`: the LM head of a model with
    /// tied embeddings reads the embedding table itself, committed once.
    MatMulTransposed { input: NodeId, weight: WeightId },
    /// Product of two activations: `lhs (m x k) . rhs (k x n)`, or `lhs . rhs^T` with `rhs`
    /// stored `n x k` when `transpose_rhs` (attention scores `Q K^T`).
    MatMulAct {
        lhs: NodeId,
        rhs: NodeId,
        transpose_rhs: bool,
    },
    /// `input (m x n) + bias`, the bias `1 x n` (broadcast over rows) or `m x n` (a constant
    /// per entry: position embeddings of a fixed sequence).
    AddBias { input: NodeId, bias: WeightId },
    /// Element-wise sum of two nodes of the same shape and scale.
    Add { lhs: NodeId, rhs: NodeId },
    /// Element-wise product of two nodes of the same shape.
    Mul { lhs: NodeId, rhs: NodeId },
    /// `max(x, 0)`; the input must lie in the activation range.
    Relu { input: NodeId },
    /// `table[x + 2^(ACT_BITS-1)]`: an element-wise function given by a `1 x 2^ACT_BITS` weight
    /// (built by [`GraphBuilder::activation`]); the input must lie in the activation range.
    Lookup { input: NodeId, table: WeightId },
    /// `round(x / 2^shift)` (ties up), with remainder `x - 2^shift y` in
    /// `[-2^(shift-1), 2^(shift-1))`.
    Rescale { input: NodeId, shift: u32 },
    // Variants are only ever appended: their order is part of the model digest.
    /// Sum over columns: `m x n -> m x 1`.
    RowSum { input: NodeId },
    /// `c * x` for an integer `c` read as the fixed-point constant `c / 2^frac_bits`: the
    /// output scale is the input's plus `frac_bits`.
    MulConst {
        input: NodeId,
        c: i64,
        frac_bits: u32,
    },
    /// `x + c` on every real (unpadded) entry.
    AddConst { input: NodeId, c: i64 },
    /// `lhs (m x n) * rhs (m x 1)`, the column `rhs` broadcast over columns.
    MulColumn { lhs: NodeId, rhs: NodeId },
    /// `input (m x n) * weight`, the weight `1 x n` (broadcast over rows) or `m x n`.
    MulWeight { input: NodeId, weight: WeightId },
    /// Within each block of `2^log_block` columns, `(x1, x2) -> (-x2, x1)`: RoPE's
    /// rotate-half.
    RotateHalf { input: NodeId, log_block: u32 },
    /// `m x 1 -> m x cols`: the column repeated across `cols` columns.
    BroadcastColumn { input: NodeId, cols: usize },
    /// Columns `[start, start + len)` of the input, `len` a power of two (at least 2) that
    /// divides `start`: one attention head out of the heads' projection.
    ColumnSlice {
        input: NodeId,
        start: usize,
        len: usize,
    },
    /// Parts of equal power-of-two width side by side: the heads back into one tensor.
    ConcatColumns { parts: Vec<NodeId> },
    /// Row maximum over the allowed entries (`m x n -> m x 1`): the real ones, and with
    /// `causal` only columns `j <= i`. First step of a softmax (see [`crate::softmax`]).
    SoftmaxMax { input: NodeId, causal: bool },
    /// `exp(x - max)` through a committed exp table on the allowed entries, 0 elsewhere;
    /// `max` is the [`Op::SoftmaxMax`] of `input` with the same mask.
    SoftmaxExp {
        input: NodeId,
        max: NodeId,
        table: WeightId,
        causal: bool,
    },
    /// `floor(e * 2^shift / sum_j e_ij)` for `input` an [`Op::SoftmaxExp`] with the same mask:
    /// the softmax at `shift` fractional bits.
    SoftmaxDiv {
        input: NodeId,
        shift: u32,
        causal: bool,
    },
    /// Rows of a committed `vocab x d` table selected by the token ids of the public input
    /// (`seq x 1`).
    Embedding { input: NodeId, table: WeightId },
    /// Rows `[start, start + len)` of the input, `len` a power of two that divides `start`:
    /// one position out of a K/V cache.
    RowSlice {
        input: NodeId,
        start: usize,
        len: usize,
    },
    /// The input, which must be zero everywhere: binds a computed tensor to a public one
    /// (their difference). The executor refuses a non-zero value; the verifier checks the
    /// input's MLE vanishes at a random point.
    AssertZero { input: NodeId },
    /// `input[i][c] * weight[row0 + i][c mod w]` for a weight of `w` columns (a power of two
    /// dividing the input's padded width) and at least `row0 + 2^log_rows(input)` rows, `row0`
    /// a multiple of the input's padded height: RoPE tables shared by every position and head.
    MulWeightRows {
        input: NodeId,
        weight: WeightId,
        row0: usize,
    },
    /// Parts side by side whose widths are powers of two (at least 2) in non-increasing
    /// order, so each starts at a multiple of its width: a matmul's output column blocks.
    ConcatAligned { parts: Vec<NodeId> },
    /// `1 x n -> rows x n`: the row repeated down `rows` rows (a key mask over every query).
    BroadcastRow { input: NodeId, rows: usize },
    /// Rows of a channels-last image batch gathered through a sliding window (im2col, window
    /// sums, one tap of a pool; [`crate::window`]).
    WindowGather {
        input: NodeId,
        window: Window,
        mode: Gather,
    },
}

impl Op {
    /// The nodes this op reads.
    pub fn inputs(&self) -> Vec<NodeId> {
        match *self {
            Op::Input => vec![],
            Op::MatMul { input, .. }
            | Op::MatMulTransposed { input, .. }
            | Op::AddBias { input, .. }
            | Op::Relu { input }
            | Op::Lookup { input, .. }
            | Op::RowSum { input }
            | Op::MulConst { input, .. }
            | Op::AddConst { input, .. }
            | Op::MulWeight { input, .. }
            | Op::RotateHalf { input, .. }
            | Op::BroadcastColumn { input, .. }
            | Op::BroadcastRow { input, .. }
            | Op::WindowGather { input, .. }
            | Op::Rescale { input, .. } => vec![input],
            Op::MulColumn { lhs, rhs } => vec![lhs, rhs],
            Op::ColumnSlice { input, .. }
            | Op::RowSlice { input, .. }
            | Op::MulWeightRows { input, .. }
            | Op::AssertZero { input } => vec![input],
            Op::ConcatColumns { ref parts } | Op::ConcatAligned { ref parts } => parts.clone(),
            Op::SoftmaxMax { input, .. }
            | Op::SoftmaxDiv { input, .. }
            | Op::Embedding { input, .. } => vec![input],
            Op::SoftmaxExp { input, max, .. } => vec![input, max],
            Op::Add { lhs, rhs } | Op::Mul { lhs, rhs } | Op::MatMulAct { lhs, rhs, .. } => {
                vec![lhs, rhs]
            }
        }
    }

    /// Short name for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::MatMul { .. } => "matmul",
            Op::MatMulTransposed { .. } => "matmul_transposed",
            Op::MatMulAct { .. } => "matmul_act",
            Op::AddBias { .. } => "add_bias",
            Op::Add { .. } => "add",
            Op::Mul { .. } => "mul",
            Op::Relu { .. } => "relu",
            Op::Lookup { .. } => "lookup",
            Op::RowSum { .. } => "row_sum",
            Op::MulConst { .. } => "mul_const",
            Op::AddConst { .. } => "add_const",
            Op::MulColumn { .. } => "mul_column",
            Op::MulWeight { .. } => "mul_weight",
            Op::RotateHalf { .. } => "rotate_half",
            Op::BroadcastColumn { .. } => "broadcast_column",
            Op::BroadcastRow { .. } => "broadcast_row",
            Op::ColumnSlice { .. } => "column_slice",
            Op::ConcatColumns { .. } => "concat_columns",
            Op::Rescale { .. } => "rescale",
            Op::SoftmaxMax { .. } => "softmax_max",
            Op::SoftmaxExp { .. } => "softmax_exp",
            Op::SoftmaxDiv { .. } => "softmax_div",
            Op::Embedding { .. } => "embedding",
            Op::RowSlice { .. } => "row_slice",
            Op::AssertZero { .. } => "assert_zero",
            Op::MulWeightRows { .. } => "mul_weight_rows",
            Op::ConcatAligned { .. } => "concat_aligned",
            Op::WindowGather { .. } => "window_gather",
        }
    }
}

/// A node: its op, output shape and fixed-point scale (fractional bits).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub op: Op,
    pub shape: Shape,
    pub scale: u32,
}

/// A weight tensor (integers at `scale` fractional bits).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weight {
    pub name: String,
    pub shape: Shape,
    pub scale: u32,
    pub data: WeightData,
}

/// Whether input node `id` holds token ids: it is read, and only by embeddings. Its values
/// need not fit the activation range (they select rows; see [`crate::softmax::MAX_VOCAB`]).
pub fn is_token_input(nodes: &[Node], id: NodeId) -> bool {
    let mut readers = nodes
        .iter()
        .filter(|n| n.op.inputs().contains(&id))
        .peekable();
    readers.peek().is_some()
        && readers.all(|n| matches!(n.op, Op::Embedding { input, .. } if input == id))
}

/// The input nodes of `nodes` in order.
pub fn input_nodes(nodes: &[Node]) -> Vec<NodeId> {
    (0..nodes.len())
        .filter(|&i| nodes[i].op == Op::Input)
        .collect()
}

/// A model: nodes in topological order, weights, and the output node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Graph {
    pub name: String,
    pub nodes: Vec<Node>,
    pub weights: Vec<Weight>,
    pub output: NodeId,
    /// `log2` of the number of identical-shape blocks stacked along rows ([`crate::stack`]);
    /// 0 for an ordinary graph.
    #[serde(default)]
    pub log_blocks: u32,
    /// Public outputs beyond [`Self::output`], in order (an ONNX model's further graph
    /// outputs); none in a stack of blocks.
    #[serde(default)]
    pub more_outputs: Vec<NodeId>,
}

impl Graph {
    /// The shape of the (main) input tensor: the input node's, or in a stack of blocks one
    /// block's (the first block's input is the public one).
    pub fn input_shape(&self) -> Shape {
        let s = self.nodes[0].shape;
        Shape::new(s.rows.checked_shr(self.log_blocks).unwrap_or(0), s.cols)
    }

    /// The input nodes in order: node 0 (the main input), then any further public inputs
    /// ([`GraphBuilder::public_input`]), each fed by the tensor at its position.
    pub fn input_nodes(&self) -> Vec<NodeId> {
        input_nodes(&self.nodes)
    }

    /// The shape of the output tensor (in a stack of blocks, the last block's output).
    pub fn output_shape(&self) -> Shape {
        let s = self.nodes[self.output].shape;
        Shape::new(s.rows.checked_shr(self.log_blocks).unwrap_or(0), s.cols)
    }

    /// Number of weight parameters.
    pub fn n_params(&self) -> usize {
        self.weights.iter().map(|w| w.data.len()).sum()
    }

    /// Multiply-accumulate count of one forward pass.
    pub fn n_macs(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| match n.op {
                Op::MatMul { weight, .. } | Op::MatMulTransposed { weight, .. } => {
                    n.shape.rows * self.weights[weight].shape.len()
                }
                Op::MatMulAct { lhs, .. } => n.shape.len() * self.nodes[lhs].shape.cols,
                _ => 0,
            })
            .sum()
    }
}

/// Why a graph is malformed.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphError {
    #[error("node {node} ({op}): shape mismatch: {detail}")]
    ShapeMismatch {
        node: NodeId,
        op: &'static str,
        detail: String,
    },
    #[error("node {node} ({op}): scale mismatch: {lhs} vs {rhs}")]
    ScaleMismatch {
        node: NodeId,
        op: &'static str,
        lhs: u32,
        rhs: u32,
    },
    #[error("node {node}: rescale shift {shift} must be in 1..=29")]
    BadShift { node: NodeId, shift: u32 },
    #[error("weight {name}: {len} values for shape {rows}x{cols}")]
    WeightSize {
        name: String,
        len: usize,
        rows: usize,
        cols: usize,
    },
    #[error("weight {name}: value {value} exceeds the M31 range")]
    WeightRange { name: String, value: i64 },
    #[error("empty tensor shape {rows}x{cols}")]
    EmptyShape { rows: usize, cols: usize },
    #[error("graph has no input node")]
    NoInput,
    #[error("node {node} refers to {operand}, which is not an earlier node or weight")]
    BadOperand { node: NodeId, operand: usize },
}

/// Builds a [`Graph`] node by node, checking shapes and scales as it goes.
#[derive(Debug)]
pub struct GraphBuilder {
    pub(crate) name: String,
    pub(crate) nodes: Vec<Node>,
    pub(crate) weights: Vec<Weight>,
}

impl GraphBuilder {
    /// Starts a graph whose input has `shape` at `scale` fractional bits.
    pub fn new(name: impl Into<String>, shape: Shape, scale: u32) -> Result<Self, GraphError> {
        check_shape(shape)?;
        Ok(Self {
            name: name.into(),
            nodes: vec![Node {
                op: Op::Input,
                shape,
                scale,
            }],
            weights: vec![],
        })
    }

    /// The input node.
    pub const fn input(&self) -> NodeId {
        0
    }

    /// Shape of an existing node.
    pub fn shape(&self, node: NodeId) -> Option<Shape> {
        self.nodes.get(node).map(|n| n.shape)
    }

    /// Operation of an existing node.
    pub fn op(&self, node: NodeId) -> Option<&Op> {
        self.nodes.get(node).map(|n| &n.op)
    }

    pub(crate) fn node(&self, id: NodeId) -> Result<&Node, GraphError> {
        self.nodes.get(id).ok_or(GraphError::BadOperand {
            node: self.nodes.len(),
            operand: id,
        })
    }

    /// Appends a node. Its shape must be the one [`crate::rules::output_shape`] gives (an
    /// input declares its own): the builder's functions check their operands with clearer
    /// errors first, and the rule is the final word, the same one the proof system checks.
    pub(crate) fn push(&mut self, op: Op, shape: Shape, scale: u32) -> Result<NodeId, GraphError> {
        if op != Op::Input {
            let weights: Vec<Shape> = self.weights.iter().map(|w| w.shape).collect();
            if crate::rules::output_shape(&op, &self.nodes, &weights, 0) != Some(shape) {
                return Err(GraphError::ShapeMismatch {
                    node: self.nodes.len(),
                    op: op.kind(),
                    detail: format!(
                        "operands do not give a {}x{} output",
                        shape.rows, shape.cols
                    ),
                });
            }
        }
        self.nodes.push(Node { op, shape, scale });
        Ok(self.nodes.len() - 1)
    }

    /// Adds a weight tensor and returns its id.
    pub fn weight(&mut self, weight: Weight) -> Result<WeightId, GraphError> {
        check_shape(weight.shape)?;
        if weight.data.len() != weight.shape.len() {
            return Err(GraphError::WeightSize {
                name: weight.name,
                len: weight.data.len(),
                rows: weight.shape.rows,
                cols: weight.shape.cols,
            });
        }
        if let Some(&value) = weight.data.iter().find(|v| v.abs() > MAX_ABS) {
            return Err(GraphError::WeightRange {
                name: weight.name,
                value,
            });
        }
        self.weights.push(weight);
        Ok(self.weights.len() - 1)
    }

    /// `input . weight`.
    pub fn matmul(&mut self, input: NodeId, weight: Weight) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let id = self.nodes.len();
        if x.shape.cols != weight.shape.rows {
            return Err(GraphError::ShapeMismatch {
                node: id,
                op: "matmul",
                detail: format!(
                    "activation {}x{} times weight {}x{}",
                    x.shape.rows, x.shape.cols, weight.shape.rows, weight.shape.cols
                ),
            });
        }
        let n = weight.shape.cols;
        let scale = x.scale + weight.scale;
        let w = self.weight(weight)?;
        self.push(
            Op::MatMul { input, weight: w },
            Shape::new(x.shape.rows, n),
            scale,
        )
    }

    /// `lhs . rhs` (or `lhs . rhs^T`) for two activations.
    pub fn matmul_act(
        &mut self,
        lhs: NodeId,
        rhs: NodeId,
        transpose_rhs: bool,
    ) -> Result<NodeId, GraphError> {
        let (l, r) = (self.node(lhs)?.clone(), self.node(rhs)?.clone());
        let (k, n) = if transpose_rhs {
            (r.shape.cols, r.shape.rows)
        } else {
            (r.shape.rows, r.shape.cols)
        };
        if l.shape.cols != k {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "matmul_act",
                detail: format!(
                    "{}x{} times {}{}x{}",
                    l.shape.rows,
                    l.shape.cols,
                    if transpose_rhs { "transposed " } else { "" },
                    r.shape.rows,
                    r.shape.cols
                ),
            });
        }
        self.push(
            Op::MatMulAct {
                lhs,
                rhs,
                transpose_rhs,
            },
            Shape::new(l.shape.rows, n),
            l.scale + r.scale,
        )
    }

    /// `input + bias` with the bias `1 x n` broadcast over rows, or of the input's shape;
    /// scales must agree.
    pub fn add_bias(&mut self, input: NodeId, bias: Weight) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let id = self.nodes.len();
        if (bias.shape.rows != 1 && bias.shape != x.shape) || bias.shape.cols != x.shape.cols {
            return Err(GraphError::ShapeMismatch {
                node: id,
                op: "add_bias",
                detail: format!(
                    "bias {}x{} for activation with {} columns",
                    bias.shape.rows, bias.shape.cols, x.shape.cols
                ),
            });
        }
        if bias.scale != x.scale {
            return Err(GraphError::ScaleMismatch {
                node: id,
                op: "add_bias",
                lhs: x.scale,
                rhs: bias.scale,
            });
        }
        let b = self.weight(bias)?;
        self.push(Op::AddBias { input, bias: b }, x.shape, x.scale)
    }

    fn binary(
        &mut self,
        lhs: NodeId,
        rhs: NodeId,
        kind: &'static str,
    ) -> Result<(Node, Node), GraphError> {
        let (l, r) = (self.node(lhs)?.clone(), self.node(rhs)?.clone());
        if l.shape != r.shape {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: kind,
                detail: format!(
                    "{}x{} vs {}x{}",
                    l.shape.rows, l.shape.cols, r.shape.rows, r.shape.cols
                ),
            });
        }
        Ok((l, r))
    }

    /// Element-wise `lhs + rhs`; scales must agree.
    pub fn add(&mut self, lhs: NodeId, rhs: NodeId) -> Result<NodeId, GraphError> {
        let (l, r) = self.binary(lhs, rhs, "add")?;
        if l.scale != r.scale {
            return Err(GraphError::ScaleMismatch {
                node: self.nodes.len(),
                op: "add",
                lhs: l.scale,
                rhs: r.scale,
            });
        }
        self.push(Op::Add { lhs, rhs }, l.shape, l.scale)
    }

    /// Element-wise `lhs * rhs`; the scale is the sum of the scales.
    pub fn mul(&mut self, lhs: NodeId, rhs: NodeId) -> Result<NodeId, GraphError> {
        let (l, r) = self.binary(lhs, rhs, "mul")?;
        self.push(Op::Mul { lhs, rhs }, l.shape, l.scale + r.scale)
    }

    /// `max(input, 0)`.
    pub fn relu(&mut self, input: NodeId) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        self.push(Op::Relu { input }, x.shape, x.scale)
    }

    /// `f(input)` for an element-wise function, through a table of all `2^ACT_BITS` inputs at
    /// the input's scale, with outputs rounded at `out_scale` fractional bits. The table is a
    /// weight of the model (committed with it), shared by every use of the same function and
    /// scales.
    pub fn activation(
        &mut self,
        input: NodeId,
        func: crate::func::Func,
        out_scale: u32,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let name = func.table_name(x.scale, out_scale);
        let table = match self.weights.iter().position(|w| w.name == name) {
            Some(t) => t,
            None => self.weight(func.table(x.scale, out_scale))?,
        };
        self.push(Op::Lookup { input, table }, x.shape, out_scale)
    }

    /// `round(input / 2^shift)`.
    pub fn rescale(&mut self, input: NodeId, shift: u32) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        if shift == 0 || shift > crate::execute::MAX_SHIFT {
            return Err(GraphError::BadShift {
                node: self.nodes.len(),
                shift,
            });
        }
        if shift > x.scale {
            return Err(GraphError::ScaleMismatch {
                node: self.nodes.len(),
                op: "rescale (shift exceeds the input's fractional bits)",
                lhs: x.scale,
                rhs: shift,
            });
        }
        self.push(Op::Rescale { input, shift }, x.shape, x.scale - shift)
    }

    /// A further public input of `shape` at `scale` (a K/V cache, a second model input): the
    /// prover and verifier take one tensor per input node, in node order.
    pub fn public_input(&mut self, shape: Shape, scale: u32) -> Result<NodeId, GraphError> {
        check_shape(shape)?;
        self.push(Op::Input, shape, scale)
    }

    /// Asserts `input` is zero everywhere ([`Op::AssertZero`]); the node has no consumers.
    pub fn assert_zero(&mut self, input: NodeId) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        self.push(Op::AssertZero { input }, x.shape, x.scale)
    }

    /// Finishes the graph with `output` as its output node.
    pub fn build(self, output: NodeId) -> Result<Graph, GraphError> {
        self.build_outputs(output, Vec::new())
    }

    /// Finishes a graph with several public outputs: `output` first, then `more` in order.
    pub fn build_outputs(self, output: NodeId, more: Vec<NodeId>) -> Result<Graph, GraphError> {
        if let Some(&bad) = std::iter::once(&output)
            .chain(&more)
            .find(|&&o| o >= self.nodes.len())
        {
            return Err(GraphError::BadOperand {
                node: self.nodes.len(),
                operand: bad,
            });
        }
        Ok(Graph {
            name: self.name,
            nodes: self.nodes,
            weights: self.weights,
            output,
            log_blocks: 0,
            more_outputs: more,
        })
    }
}

fn check_shape(shape: Shape) -> Result<(), GraphError> {
    if shape.is_empty() {
        return Err(GraphError::EmptyShape {
            rows: shape.rows,
            cols: shape.cols,
        });
    }
    Ok(())
}

pub use crate::validate::validate;
