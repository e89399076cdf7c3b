//! The circuit: everything prover and verifier derive from a graph's *structure* (never from
//! weight values) — which nodes are advice, the lookup tables and columns, and the packings.

use gkr::lookup::{ColumnSpec, RealMask};
use gkr::TableKind;
use model::softmax::{MAX_ROW_SUM_BITS, SOFTMAX_BITS};
use model::{Graph, NodeId, Op, Shape, ACT_BITS};
use serde::{Deserialize, Serialize};

use crate::error::VerifyError;
use crate::packing::Packing;

/// The structure of a model: the graph without weight values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphShape {
    pub name: String,
    pub nodes: Vec<model::Node>,
    /// Per weight: shape and scale.
    pub weights: Vec<(Shape, u32)>,
    pub output: NodeId,
    /// `log2` of the number of stacked blocks ([`model::stack`]); 0 for an ordinary graph.
    pub log_blocks: u32,
}

impl GraphShape {
    pub fn of(graph: &Graph) -> Self {
        Self {
            name: graph.name.clone(),
            nodes: graph.nodes.clone(),
            weights: graph.weights.iter().map(|w| (w.shape, w.scale)).collect(),
            output: graph.output,
            log_blocks: graph.log_blocks,
        }
    }

    /// Number of stacked blocks (1 for an ordinary graph).
    pub fn blocks(&self) -> usize {
        1 << self.log_blocks
    }
}

/// What a looked-up column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// The output `y` of a rescale, in the activation range.
    RescaleOutput(NodeId),
    /// The remainder `x - 2^s y` of a rescale, in `[-2^(s-1), 2^(s-1))`.
    RescaleRemainder(NodeId),
    /// The pair `(x, relu(x))` of a ReLU node.
    Relu(NodeId),
    /// The pair `(x, f(x))` of a `Lookup` node, into its committed table.
    Lookup(NodeId),
    /// The one-hot `h` of a `SoftmaxMax` node, in `{0, 1}`.
    SoftmaxOneHot(NodeId),
    /// The gap `max_b - x` of a `SoftmaxMax` node, in `[0, 2^16)` on the allowed entries.
    SoftmaxGap(NodeId),
    /// The pair `(x - max_b, e)` of a `SoftmaxExp` node, into its exp table (allowed entries).
    SoftmaxExp(NodeId),
    /// The remainder `r = e 2^q - p s_b` of a `SoftmaxDiv` node, in `[0, 2^16)`.
    SoftmaxRem(NodeId),
    /// `s_b - 1 - r` of a `SoftmaxDiv` node, in `[0, 2^16)`: with the above, `r < s`.
    SoftmaxRemGap(NodeId),
    /// The quotient `p` of a `SoftmaxDiv` node, in the activation range.
    SoftmaxOut(NodeId),
}

/// Where claims on a node's value end up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    /// Public input or output: the verifier evaluates the MLE itself.
    Public,
    /// Committed advice, item index in the advice packing.
    Advice(usize),
    /// Computed by a linear layer: reduced to its operands.
    Computed,
}

/// The derived circuit.
#[derive(Clone, Debug)]
pub struct Circuit {
    pub shape: GraphShape,
    pub sinks: Vec<Sink>,
    pub advice_nodes: Vec<NodeId>,
    /// `SoftmaxMax` nodes, whose one-hot tables are advice items after the advice nodes.
    pub one_hot: Vec<NodeId>,
    pub tables: Vec<TableKind>,
    pub columns: Vec<(ColumnKind, ColumnSpec)>,
    pub weight_packing: Packing,
    /// Items: the advice nodes, the one-hot tables, then one multiplicity table per lookup
    /// table.
    pub advice_packing: Packing,
}

fn malformed(what: String) -> VerifyError {
    VerifyError::MalformedModel(what)
}

/// The extra rules of a stacked graph ([`model::stack`]): every node's rows are the blocks'
/// rows (a power of two, at least 2, per block), the output has the input's shape and scale
/// (it feeds the next block), and no op that the stack does not batch.
fn check_stack(s: &GraphShape) -> Result<(), VerifyError> {
    if s.log_blocks == 0 {
        return Ok(());
    }
    if s.log_blocks > 10 {
        return Err(malformed(format!("2^{} stacked blocks", s.log_blocks)));
    }
    let nb = s.blocks();
    for (id, node) in s.nodes.iter().enumerate() {
        let rows = node.shape.rows;
        let unbatched = matches!(
            node.op,
            Op::Embedding { .. } | Op::RowSlice { .. } | Op::AssertZero { .. } | Op::AddBias { .. }
        ) || (id > 0 && node.op == Op::Input);
        if unbatched || !rows.is_power_of_two() || rows < 2 * nb {
            return Err(malformed(format!(
                "node {id} ({}): not a batched block node",
                node.op.kind()
            )));
        }
        let inner = match node.op {
            Op::MatMul { input, .. }
            | Op::MatMulAct {
                lhs: input,
                transpose_rhs: false,
                ..
            } => Some(s.nodes.get(input).map_or(0, |x| x.shape.cols)),
            _ => None,
        };
        if inner.is_some_and(|k| k < 2 || !k.is_power_of_two()) {
            return Err(malformed(format!("node {id}: batched inner dimension")));
        }
    }
    let (input, output) = (&s.nodes[0], &s.nodes[s.output]);
    if input.shape != output.shape || input.scale != output.scale {
        return Err(malformed(
            "a batched block's output must have its input's shape and scale".into(),
        ));
    }
    Ok(())
}

/// Checks operand indices and the shape rules, so that nothing later indexes out of range.
fn check_structure(s: &GraphShape) -> Result<(), VerifyError> {
    if s.nodes.first().map(|n| &n.op) != Some(&Op::Input) {
        return Err(malformed("node 0 must be the input".into()));
    }
    if s.output >= s.nodes.len() {
        return Err(malformed("output node out of range".into()));
    }
    check_stack(s)?;
    let nb = s.blocks();
    for (id, node) in s.nodes.iter().enumerate() {
        if node.shape.is_empty() || node.shape.rows > 1 << 24 || node.shape.cols > 1 << 24 {
            return Err(malformed(format!("node {id}: bad shape")));
        }
        for operand in node.op.inputs() {
            if operand >= id {
                return Err(malformed(format!(
                    "node {id}: operand {operand} is not earlier"
                )));
            }
        }
        let same = |o: NodeId| s.nodes[o].shape == node.shape;
        let weight = |w: usize| s.weights.get(w).map(|x| x.0);
        let ok = match node.op {
            Op::Input => true,
            Op::MatMul { input, weight: w } => weight(w).is_some_and(|ws| {
                let x = s.nodes[input].shape;
                ws.rows == x.cols * nb && node.shape == Shape::new(x.rows, ws.cols)
            }),
            Op::MatMulAct {
                lhs,
                rhs,
                transpose_rhs,
            } => {
                let (l, r) = (s.nodes[lhs].shape, s.nodes[rhs].shape);
                let (k, n) = if transpose_rhs {
                    (r.cols, r.rows / nb)
                } else {
                    (r.rows / nb, r.cols)
                };
                r.rows.is_multiple_of(nb) && l.cols == k && node.shape == Shape::new(l.rows, n)
            }
            Op::AddBias { input, bias } => {
                weight(bias).is_some_and(|b| same(input) && b == Shape::new(1, node.shape.cols))
            }
            Op::Add { lhs, rhs } | Op::Mul { lhs, rhs } => same(lhs) && same(rhs),
            Op::Relu { input } => same(input),
            Op::RowSum { input } => node.shape == Shape::new(s.nodes[input].shape.rows, 1),
            Op::MulConst { input, c, .. } => same(input) && c != 0 && c.abs() < 1 << 30,
            Op::AddConst { input, c } => same(input) && c.abs() < 1 << 30,
            Op::MulColumn { lhs, rhs } => {
                same(lhs) && s.nodes[rhs].shape == Shape::new(node.shape.rows, 1)
            }
            Op::MulWeight { input, weight: w } => {
                let cols = node.shape.cols;
                same(input)
                    && weight(w).is_some_and(|ws| {
                        // A stack's gains are per block (`blocks x n`), as `model::stack` builds.
                        ws == node.shape
                            || (nb == 1 && ws == Shape::new(1, cols))
                            || (nb > 1 && ws == Shape::new(nb, cols))
                    })
            }
            Op::ColumnSlice { input, start, len } => {
                let x = s.nodes[input].shape;
                len >= 2
                    && len.is_power_of_two()
                    && start.is_multiple_of(len)
                    && start.checked_add(len).is_some_and(|end| end <= x.cols)
                    && node.shape == Shape::new(x.rows, len)
            }
            Op::ConcatColumns { ref parts } => {
                let w = parts.first().map_or(0, |&p| s.nodes[p].shape.cols);
                !parts.is_empty()
                    && w >= 2
                    && w.is_power_of_two()
                    && parts
                        .iter()
                        .all(|&p| s.nodes[p].shape == Shape::new(node.shape.rows, w))
                    && node.shape.cols == w * parts.len()
            }
            Op::ConcatAligned { ref parts } => {
                let widths: Vec<usize> = parts.iter().map(|&p| s.nodes[p].shape.cols).collect();
                !parts.is_empty()
                    && widths.iter().all(|&w| w >= 2 && w.is_power_of_two())
                    && widths.windows(2).all(|w| w[1] <= w[0])
                    && parts
                        .iter()
                        .all(|&p| s.nodes[p].shape.rows == node.shape.rows)
                    && node.shape.cols == widths.iter().sum::<usize>()
            }
            Op::BroadcastColumn { input, cols } => {
                s.nodes[input].shape.cols == 1
                    && node.shape == Shape::new(s.nodes[input].shape.rows, cols)
            }
            Op::RotateHalf { input, log_block } => {
                same(input)
                    && (1..=20).contains(&log_block)
                    && node.shape.cols.is_multiple_of(1usize << log_block)
            }
            Op::Lookup { input, table } => {
                same(input) && weight(table) == Some(Shape::new(1, 1 << ACT_BITS))
            }
            Op::Rescale { input, shift } => {
                same(input) && (1..=model::execute::MAX_SHIFT).contains(&shift)
            }
            Op::SoftmaxMax { input, causal } => {
                let x = s.nodes[input].shape;
                node.shape == Shape::new(x.rows, 1) && (!causal || x.rows / nb <= x.cols)
            }
            Op::SoftmaxExp {
                input,
                max,
                table,
                causal,
            } => {
                same(input)
                    && s.nodes[max].op == Op::SoftmaxMax { input, causal }
                    && s.weights.get(table) == Some(&(Shape::new(1, 1 << ACT_BITS), node.scale))
                    && node.shape.log_cols() + node.scale <= MAX_ROW_SUM_BITS
            }
            Op::SoftmaxDiv {
                input,
                shift,
                causal,
            } => {
                same(input)
                    && matches!(s.nodes[input].op, Op::SoftmaxExp { causal: c, .. } if c == causal)
                    && (1..=SOFTMAX_BITS).contains(&shift)
            }
            Op::RowSlice { input, start, len } => {
                let x = s.nodes[input].shape;
                len.is_power_of_two()
                    && start.is_multiple_of(len)
                    && start.checked_add(len).is_some_and(|end| end <= x.rows)
                    && node.shape == Shape::new(len, x.cols)
            }
            Op::AssertZero { input } => same(input) && input != s.output,
            Op::MulWeightRows {
                input,
                weight: w,
                row0,
            } => {
                let rows = 1usize << (node.shape.log_rows() - s.log_blocks);
                let cols = 1usize << node.shape.log_cols();
                same(input)
                    && weight(w).is_some_and(|ws| {
                        ws.cols.is_power_of_two()
                            && cols.is_multiple_of(ws.cols)
                            && ws.rows.is_power_of_two()
                            && row0.is_multiple_of(rows)
                            && row0.checked_add(rows).is_some_and(|end| end <= ws.rows)
                    })
            }
            Op::Embedding { input, table } => {
                let x = s.nodes[input].shape;
                input == 0
                    && x.cols == 1
                    && weight(table).is_some_and(|w| {
                        w.rows <= 1 << (ACT_BITS - 1) && node.shape == Shape::new(x.rows, w.cols)
                    })
            }
        };
        if !ok {
            return Err(malformed(format!(
                "node {id} ({}): inconsistent shapes",
                node.op.kind()
            )));
        }
    }
    Ok(())
}

impl Circuit {
    /// Derives the circuit of a graph structure.
    pub fn new(shape: GraphShape) -> Result<Self, VerifyError> {
        check_structure(&shape)?;
        let n = shape.nodes.len();
        let mut sinks = vec![Sink::Computed; n];
        let mut advice_nodes = Vec::new();
        for (id, node) in shape.nodes.iter().enumerate() {
            let chosen = crate::layers::of(&node.op).is_advice();
            let public = id == shape.output && chosen || node.op == Op::Input;
            sinks[id] = if public && shape.log_blocks == 0 {
                Sink::Public
            } else if chosen || node.op == Op::Input {
                // A stack's input (every block's input) is committed.
                advice_nodes.push(id);
                Sink::Advice(advice_nodes.len() - 1)
            } else {
                Sink::Computed
            };
        }

        let mut tables: Vec<TableKind> = Vec::new();
        let mut columns = Vec::new();
        for (id, node) in shape.nodes.iter().enumerate() {
            // Softmax columns live on the input's (= the output's, but for the row max) shape.
            let log_len = match node.op {
                Op::SoftmaxMax { input, .. } => shape.nodes[input].shape.n_vars(),
                _ => node.shape.n_vars(),
            };
            for (kind, table, mask) in crate::layers::of(&node.op).columns(&shape, id) {
                let table = match tables.iter().position(|&x| x == table) {
                    Some(i) => i,
                    None => {
                        tables.push(table);
                        tables.len() - 1
                    }
                };
                columns.push((
                    kind,
                    ColumnSpec {
                        table,
                        log_len,
                        mask,
                    },
                ));
            }
        }

        let one_hot: Vec<NodeId> = shape
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.op, Op::SoftmaxMax { .. }))
            .map(|(id, _)| id)
            .collect();
        let weight_vars: Vec<u32> = shape.weights.iter().map(|(s, _)| s.n_vars()).collect();
        let advice_vars: Vec<u32> = advice_nodes
            .iter()
            .map(|&id| shape.nodes[id].shape.n_vars())
            .chain(one_hot.iter().map(|&id| {
                let x = shape.nodes[id].op.inputs()[0];
                shape.nodes[x].shape.n_vars()
            }))
            .chain(tables.iter().map(|t| t.log_size()))
            .collect();
        Ok(Self {
            weight_packing: Packing::new(&weight_vars),
            advice_packing: Packing::new(&advice_vars),
            shape,
            sinks,
            advice_nodes,
            one_hot,
            tables,
            columns,
        })
    }

    /// The weight ids of the committed lookup tables, in table order.
    pub fn committed_tables(&self) -> impl Iterator<Item = usize> + '_ {
        self.tables.iter().filter_map(|t| match *t {
            TableKind::Committed { id, .. } => Some(id as usize),
            _ => None,
        })
    }

    /// The advice table's committed polynomials under `config`
    /// ([`Packing::trimmed_chunks`], each at most the commitment scheme's largest polynomial).
    pub fn advice_chunks(
        &self,
        config: &crate::ProofConfig,
    ) -> Result<crate::packing::Chunks, VerifyError> {
        let max = config.pcs.max_n_variables();
        self.advice_packing.trimmed_chunks(max).ok_or_else(|| {
            VerifyError::MalformedModel(format!(
                "an advice tensor is larger than the largest committed polynomial (2^{max})"
            ))
        })
    }

    /// Advice item of lookup table `t`'s multiplicities.
    pub fn multiplicity_item(&self, t: usize) -> usize {
        self.advice_nodes.len() + self.one_hot.len() + t
    }

    /// Advice item of the one-hot table of `SoftmaxMax` node `id`.
    pub fn one_hot_item(&self, id: NodeId) -> Option<usize> {
        let k = self.one_hot.iter().position(|&n| n == id)?;
        Some(self.advice_nodes.len() + k)
    }

    /// `log2` of the summed Schwartz–Zippel numerators of the algebraic checks, plus one bit
    /// for the union bound: LogUp contributes `N + T` (looked-up rows plus table rows; the
    /// pair compression `x + beta y` keeps the cleared identity of total degree `N + T` in
    /// `(z, beta)`), every sumcheck round its degree (at most 3). Rounds are over-approximated
    /// by 100 per node (matmul, batching and mul sumchecks) plus 2048 for the lookup GKR and the
    /// opening. See docs/soundness.md.
    pub fn algebraic_error_log(&self) -> u32 {
        let rows: u64 = self
            .columns
            .iter()
            .map(|(_, c)| 1u64 << c.log_len)
            .sum::<u64>()
            + self
                .tables
                .iter()
                .map(|t| 1u64 << t.log_size())
                .sum::<u64>();
        let total = rows + 3 * (100 * self.shape.nodes.len() as u64 + 2048);
        (64 - (total.max(2) - 1).leading_zeros()) + 1
    }
}

/// The entries of a softmax over a tensor of `shape` that take part: the real ones, and with
/// `causal` only columns `j <= i` (in a stack of `2^log_blocks` blocks, `i` counted within the
/// block).
pub fn softmax_mask(shape: Shape, causal: bool, log_blocks: u32) -> RealMask {
    RealMask {
        rows: shape.rows,
        cols: shape.cols,
        log_rows: shape.log_rows(),
        log_cols: shape.log_cols(),
        causal,
        log_blocks,
    }
}
