//! Block batching: `N = 2^L` graphs of one structure (decoder blocks with their own weights)
//! stacked along rows into one graph that is proved in one pass.
//!
//! In the stacked graph every node holds the `N` blocks' tensors one above the other (block `b`
//! in rows `b r .. (b + 1) r` of a node with `r` rows per block), so a claim on any node starts
//! with `L` block coordinates. Weights that differ per block are stacked the same way: a
//! matmul's `k x n` matrices become one `N k x n` weight, a row gain `1 x n` becomes `N x n`.
//! Lookup tables and RoPE tables are shared and must be equal in every block. The stacked
//! graph's semantics is "block `b` runs on its own rows": matmuls are block-diagonal, causal
//! masks restart in each block, RoPE rows are counted within the block. [`block_of`] recovers
//! block `b` as an ordinary graph and [`execute_stacked`] runs the blocks in sequence (block
//! `b + 1` reads block `b`'s output) and stacks their traces. The proof system (zkml) commits
//! the stacked input and proves that it is the chain `input, out_0, .., out_{N-2}`.
//!
//! Rules, checked by [`stack_blocks`]: one input node; every node's rows per block a power of
//! two of at least 2 (a sequence of at least two positions); a matmul's inner dimension a
//! power of two; no embedding, row slice or assert-zero node (token ids and K/V caches are not
//! batched); no bias (`AddBias`) yet.

use crate::execute::{execute_all, ExecError, Trace};
use crate::graph::{Graph, GraphError, Node, Op, Weight};
use crate::tensor::{Shape, Tensor};

/// How the stacked graph holds one weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightRole {
    /// One copy per block, stacked along rows.
    PerBlock,
    /// One copy for all blocks (lookup tables, RoPE tables).
    Shared,
}

fn refuse(node: usize, op: &'static str, detail: impl Into<String>) -> GraphError {
    GraphError::ShapeMismatch {
        node,
        op,
        detail: detail.into(),
    }
}

/// The role of every weight of a block graph, from the ops that read it.
pub fn weight_roles(g: &Graph) -> Result<Vec<Option<WeightRole>>, GraphError> {
    let mut roles: Vec<Option<WeightRole>> = vec![None; g.weights.len()];
    for (id, node) in g.nodes.iter().enumerate() {
        let (w, role) = match node.op {
            Op::MatMul { weight, .. } | Op::MulWeight { weight, .. } => {
                (weight, WeightRole::PerBlock)
            }
            Op::Lookup { table, .. } | Op::SoftmaxExp { table, .. } => (table, WeightRole::Shared),
            Op::MulWeightRows { weight, .. } => (weight, WeightRole::Shared),
            Op::Embedding { .. }
            | Op::MatMulTransposed { .. }
            | Op::RowSlice { .. }
            | Op::WindowGather { .. }
            | Op::AssertZero { .. } => {
                return Err(refuse(
                    id,
                    node.op.kind(),
                    "not supported in a batched stack",
                ));
            }
            Op::AddBias { .. } => {
                return Err(refuse(id, "add_bias", "biases are not batched yet"));
            }
            Op::Input if id != 0 => {
                return Err(refuse(id, "input", "a batched block has one input"));
            }
            _ => continue,
        };
        let slot = roles.get_mut(w).ok_or(GraphError::BadOperand {
            node: id,
            operand: w,
        })?;
        if slot.is_some_and(|r| r != role) {
            return Err(refuse(
                id,
                node.op.kind(),
                "weight used both per block and shared",
            ));
        }
        *slot = Some(role);
    }
    Ok(roles)
}

/// Stacks `blocks` (`2^L` graphs, `L >= 1`, of one structure) into one batched graph.
pub fn stack_blocks(name: &str, blocks: &[Graph]) -> Result<Graph, GraphError> {
    let n = blocks.len();
    let first = blocks
        .first()
        .ok_or_else(|| refuse(0, "stack", "no blocks"))?;
    if n < 2 || !n.is_power_of_two() || n > 1 << 10 {
        return Err(refuse(
            0,
            "stack",
            format!("{n} blocks: need a power of two in 2..=1024"),
        ));
    }
    let roles = weight_roles(first)?;
    for (b, g) in blocks.iter().enumerate() {
        if g.log_blocks != 0
            || g.output != first.output
            || !g.more_outputs.is_empty()
            || g.nodes != first.nodes
        {
            return Err(refuse(
                0,
                "stack",
                format!("block {b} differs in structure from block 0"),
            ));
        }
    }
    let mut nodes = Vec::with_capacity(first.nodes.len());
    for (id, node) in first.nodes.iter().enumerate() {
        let rows = node.shape.rows;
        if rows < 2 || !rows.is_power_of_two() {
            return Err(refuse(
                id,
                node.op.kind(),
                format!("{rows} rows: need a power of two >= 2"),
            ));
        }
        if let Op::MatMul { input, .. }
        | Op::MatMulAct {
            lhs: input,
            transpose_rhs: false,
            ..
        } = node.op
        {
            let k = first.nodes[input].shape.cols;
            if k < 2 || !k.is_power_of_two() {
                return Err(refuse(
                    id,
                    node.op.kind(),
                    format!("inner dimension {k}: need a power of two"),
                ));
            }
        }
        nodes.push(Node {
            shape: Shape::new(rows * n, node.shape.cols),
            ..node.clone()
        });
    }
    let mut weights = Vec::with_capacity(first.weights.len());
    for (w, (w0, role)) in first.weights.iter().zip(&roles).enumerate() {
        for (b, g) in blocks.iter().enumerate() {
            let wb = &g.weights[w];
            let same_kind = wb.shape == w0.shape && wb.scale == w0.scale;
            let same_data = *role != Some(WeightRole::Shared) || wb.data == w0.data;
            if !same_kind || !same_data {
                return Err(refuse(
                    0,
                    "stack",
                    format!("weight {} of block {b} differs from block 0's", w0.name),
                ));
            }
        }
        weights.push(match role {
            Some(WeightRole::PerBlock) => Weight {
                name: format!("{}[x{n}]", w0.name),
                shape: Shape::new(w0.shape.rows * n, w0.shape.cols),
                scale: w0.scale,
                data: blocks
                    .iter()
                    .flat_map(|g| g.weights[w].data.iter().copied())
                    .collect(),
            },
            _ => w0.clone(),
        });
    }
    Ok(Graph {
        name: name.into(),
        nodes,
        weights,
        output: first.output,
        log_blocks: n.ilog2(),
        more_outputs: Vec::new(),
    })
}

/// Block `b` of a stacked graph as an ordinary graph (its weights copied).
pub fn block_of(graph: &Graph, b: usize) -> Result<Graph, GraphError> {
    let n = 1usize << graph.log_blocks;
    if b >= n {
        return Err(refuse(0, "block", format!("block {b} of {n}")));
    }
    let mut block = Graph {
        name: format!("{}/block{b}", graph.name),
        nodes: graph.nodes.clone(),
        weights: Vec::with_capacity(graph.weights.len()),
        output: graph.output,
        log_blocks: 0,
        more_outputs: Vec::new(),
    };
    for (id, node) in block.nodes.iter_mut().enumerate() {
        if !node.shape.rows.is_multiple_of(n) {
            return Err(refuse(
                id,
                node.op.kind(),
                "rows do not split into the blocks",
            ));
        }
        node.shape = Shape::new(node.shape.rows / n, node.shape.cols);
    }
    let roles = weight_roles(graph)?;
    for (w, role) in graph.weights.iter().zip(roles) {
        block.weights.push(match role {
            Some(WeightRole::PerBlock) => {
                let rows = w.shape.rows / n;
                let len = rows * w.shape.cols;
                let data = w
                    .data
                    .get(b * len..(b + 1) * len)
                    .filter(|_| w.shape.rows == rows * n && w.data.len() == n * len)
                    .ok_or_else(|| GraphError::WeightSize {
                        name: w.name.clone(),
                        len: w.data.len(),
                        rows: w.shape.rows,
                        cols: w.shape.cols,
                    })?;
                Weight {
                    name: w.name.clone(),
                    shape: Shape::new(rows, w.shape.cols),
                    scale: w.scale,
                    data: data.to_vec().into(),
                }
            }
            _ => w.clone(),
        });
    }
    Ok(block)
}

/// The rows of block `b` (of `2^log_blocks`) of a stacked tensor.
pub fn block_rows(t: &Tensor, log_blocks: u32, b: usize) -> Tensor {
    let rows = t.shape.rows >> log_blocks;
    let len = rows * t.shape.cols;
    Tensor::new(
        Shape::new(rows, t.shape.cols),
        t.data[b * len..(b + 1) * len].to_vec(),
    )
}

/// Tensors of one shape stacked along rows.
pub fn stack_rows(parts: &[Tensor]) -> Tensor {
    let shape = parts.first().map_or(Shape::new(0, 0), |t| t.shape);
    let data = parts.iter().flat_map(|t| t.data.iter().copied()).collect();
    Tensor::new(Shape::new(shape.rows * parts.len(), shape.cols), data)
}

/// Runs the blocks of a stacked graph in sequence on `input` (block 0's input) and returns
/// the stacked trace: node `i` holds every block's value of node `i`.
pub fn execute_stacked(graph: &Graph, input: &Tensor) -> Result<Trace, ExecError> {
    let n = 1usize << graph.log_blocks;
    let mut traces = Vec::with_capacity(n);
    let mut x = input.clone();
    for b in 0..n {
        let block = block_of(graph, b).map_err(ExecError::Graph)?;
        let trace = execute_all(&block, std::slice::from_ref(&x))?;
        x = trace.output(&block).clone();
        traces.push(trace);
    }
    Ok(stack_traces(traces))
}

/// Per-block traces stacked node by node; each block's tensor is freed once it is copied.
pub fn stack_traces(mut traces: Vec<Trace>) -> Trace {
    let nodes = traces.first().map_or(0, |t| t.values.len());
    let values = (0..nodes)
        .map(|i| {
            let shape = traces[0].values[i].shape;
            let mut data = Vec::with_capacity(shape.rows * shape.cols * traces.len());
            for t in &mut traces {
                data.append(&mut t.values[i].data);
            }
            Tensor::new(Shape::new(shape.rows * traces.len(), shape.cols), data)
        })
        .collect();
    Trace { values }
}
