//! The circuit: everything prover and verifier derive from a graph's *structure* (never from
//! weight values) — which nodes are advice, the lookup tables and columns, and the packings.

use gkr::lookup::{ColumnSpec, RealMask};
use gkr::TableKind;
use model::softmax::MAX_ROW_SUM_BITS;
use model::{Graph, NodeId, Op, Shape};
use serde::{Deserialize, Serialize};

use crate::error::VerifyError;
use crate::packing::Packing;
use crate::tiles::{tiles_of, Tile};

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
    /// Public outputs beyond `output`, in order ([`Graph::more_outputs`]).
    pub more_outputs: Vec<NodeId>,
}

impl GraphShape {
    pub fn of(graph: &Graph) -> Self {
        Self {
            name: graph.name.clone(),
            nodes: graph.nodes.clone(),
            weights: graph.weights.iter().map(|w| (w.shape, w.scale)).collect(),
            output: graph.output,
            log_blocks: graph.log_blocks,
            more_outputs: graph.more_outputs.clone(),
        }
    }

    /// Every public output node: `output`, then `more_outputs`.
    pub fn outputs(&self) -> impl Iterator<Item = NodeId> + '_ {
        std::iter::once(self.output).chain(self.more_outputs.iter().copied())
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
    /// Per weight, its committed tiles ([`crate::tiles`]); most weights are one tile.
    pub weight_tiles: Vec<Vec<Tile>>,
    /// Per weight, the weight-packing item of its first tile (its tiles follow in order).
    pub weight_items: Vec<usize>,
    /// Items: the tiles of every weight, weight by weight.
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
            Op::Embedding { .. }
                | Op::RowSlice { .. }
                | Op::AssertZero { .. }
                | Op::AddBias { .. }
                | Op::BroadcastRow { .. }
                | Op::WindowGather { .. }
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

/// Checks the public outputs: in range, distinct, none an input (its claims would be checked
/// against the input, never binding the public output), and further outputs only in an
/// ordinary graph.
fn check_outputs(s: &GraphShape) -> Result<(), VerifyError> {
    if s.log_blocks > 0 && !s.more_outputs.is_empty() {
        return Err(malformed("a batched stack has one output".into()));
    }
    let outs: Vec<NodeId> = s.outputs().collect();
    for (i, &o) in outs.iter().enumerate() {
        if o >= s.nodes.len() {
            return Err(malformed("output node out of range".into()));
        }
        if s.nodes[o].op == Op::Input {
            return Err(malformed("an output node is an input".into()));
        }
        if outs[..i].contains(&o) {
            return Err(malformed(format!("node {o} is named as an output twice")));
        }
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
    check_outputs(s)?;
    check_stack(s)?;
    let weights: Vec<Shape> = s.weights.iter().map(|w| w.0).collect();
    let mut readers: Vec<Vec<NodeId>> = vec![Vec::new(); s.nodes.len()];
    for (id, node) in s.nodes.iter().enumerate() {
        for operand in node.op.inputs() {
            if operand >= id {
                return Err(malformed(format!(
                    "node {id}: operand {operand} is not earlier"
                )));
            }
            readers[operand].push(id);
        }
    }
    for (id, node) in s.nodes.iter().enumerate() {
        if node.shape.is_empty() || node.shape.rows > 1 << 24 || node.shape.cols > 1 << 24 {
            return Err(malformed(format!("node {id}: bad shape")));
        }
        let earlier = &s.nodes[..id];
        let ok = match node.op {
            Op::Input => true,
            _ => {
                model::rules::output_shape(&node.op, earlier, &weights, s.log_blocks)
                    == Some(node.shape)
            }
        } && extra_rules(s, &readers, id);
        if !ok {
            return Err(malformed(format!(
                "node {id} ({}): inconsistent shapes",
                node.op.kind()
            )));
        }
    }
    Ok(())
}

/// The proof system's rules beyond the shapes ([`model::rules`]): an exp table at its node's
/// scale whose row sums fit the division's range; no assertion on the output; a row max read
/// only as the `max` of exp steps on the same input (its lookups bound it only on the allowed
/// entries, and its one-hot proves it only together with the exp step); nothing reads an
/// assertion (it has no value to reduce).
fn extra_rules(s: &GraphShape, readers: &[Vec<NodeId>], id: NodeId) -> bool {
    let node = &s.nodes[id];
    let consumers = || readers[id].iter().map(|&r| &s.nodes[r]);
    let is_output = |n: NodeId| s.outputs().any(|o| o == n);
    match node.op {
        Op::SoftmaxMax { input, causal } => {
            !is_output(id)
                && consumers().all(|n| {
                    matches!(n.op, Op::SoftmaxExp { input: i, max, causal: c, .. }
                        if max == id && i == input && c == causal)
                })
        }
        Op::AssertZero { .. } if consumers().next().is_some() => false,
        Op::SoftmaxExp { table, .. } => {
            s.weights.get(table).map(|w| w.1) == Some(node.scale)
                && node.shape.log_cols() + node.scale <= MAX_ROW_SUM_BITS
        }
        Op::AssertZero { input } => !is_output(input),
        _ => true,
    }
}

/// Most rows one table may receive from its columns. LogUp over M31 proves
/// `sum 1/(z - x_i) = sum m_t/(z - t)` with the multiplicities `m_t` counted mod p: with `p` or
/// more looked-up rows a count could wrap to a small number, so the identity would no longer
/// say each row is in the table. `2^30 < p` leaves room for the padding rows.
pub const MAX_TABLE_LOOKUPS: u64 = 1 << 30;

/// Refuses a circuit whose columns look up [`MAX_TABLE_LOOKUPS`] or more rows in one table
/// (counting every row of every column, padding included: an upper bound).
fn check_table_loads(
    tables: &[TableKind],
    columns: &[(ColumnKind, ColumnSpec)],
) -> Result<(), VerifyError> {
    let mut load = vec![0u64; tables.len()];
    for (_, spec) in columns {
        load[spec.table] = load[spec.table].saturating_add(1u64 << spec.log_len.min(63));
    }
    match load.iter().position(|&l| l >= MAX_TABLE_LOOKUPS) {
        Some(t) => Err(malformed(format!(
            "table {t} receives {} looked-up rows; LogUp over M31 needs fewer than 2^30",
            load[t]
        ))),
        None => Ok(()),
    }
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
            let public = shape.outputs().any(|o| o == id) && chosen || node.op == Op::Input;
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

        check_table_loads(&tables, &columns)?;

        let one_hot: Vec<NodeId> = shape
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.op, Op::SoftmaxMax { .. }))
            .map(|(id, _)| id)
            .collect();
        let weight_tiles: Vec<Vec<Tile>> = shape
            .weights
            .iter()
            .map(|(s, _)| tiles_of(*s, shape.log_blocks))
            .collect();
        let weight_items: Vec<usize> = weight_tiles
            .iter()
            .scan(0, |next, t| {
                let first = *next;
                *next += t.len();
                Some(first)
            })
            .collect();
        let weight_vars: Vec<u32> = weight_tiles.iter().flatten().map(Tile::n_vars).collect();
        // Softmax exp tables depend on the number of keys (a decoding step's cache): packed
        // after every other weight, a new table lands in the last weight chunk, and
        // `CommittedModel::update` recommits only that chunk.
        let exp_tables: Vec<usize> = shape
            .nodes
            .iter()
            .filter_map(|n| match n.op {
                Op::SoftmaxExp { table, .. } => Some(table),
                _ => None,
            })
            .collect();
        let late: Vec<bool> = weight_tiles
            .iter()
            .enumerate()
            .flat_map(|(w, t)| std::iter::repeat_n(exp_tables.contains(&w), t.len()))
            .collect();
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
            weight_tiles,
            weight_items,
            weight_packing: Packing::with_late(&weight_vars, &late),
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
