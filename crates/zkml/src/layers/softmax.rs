//! Softmax steps: `SoftmaxMax` (row max with a one-hot witness), `SoftmaxExp` (exp table on
//! `x - max`), `SoftmaxDiv` (exact division by the row sum): their lookup columns, witness
//! columns and the routing of their reductions' claims (the reductions live in `gkr::softmax`).
//!
//! A softmax node's lookup claims are held until the backward walk reaches the node; there
//! the node's proof splits them and runs its zero-checks, whatever claims arrived from later
//! nodes (those go to the opening like any advice claim).

use gkr::softmax as sm;
use gkr::{Claim, TableKind};
#[cfg(feature = "prover")]
use model::{Graph, Shape, Tensor};
use model::{NodeId, Op, ACT_BITS};
use stwo::core::channel::Blake2sChannel;
#[cfg(feature = "prover")]
use stwo::core::fields::m31::M31;

use super::{layer_err, mismatch, ColumnDef, Layer, Router, VerifyCx, Visit};
#[cfg(feature = "prover")]
use super::{not_mine, ProveCx};
use crate::circuit::{softmax_mask, Circuit, ColumnKind, GraphShape};
#[cfg(feature = "prover")]
use crate::error::ProveError;
use crate::error::VerifyError;
use crate::proof::LayerProof;

#[cfg(feature = "prover")]
/// The one-hot witness of `SoftmaxMax` node `id`: per real row, the first allowed entry equal
/// to the claimed maximum, or failing that (a forged maximum) the first largest one.
pub fn one_hot(graph: &Graph, id: NodeId, values: &[Tensor]) -> Vec<M31> {
    let Op::SoftmaxMax { input, causal } = graph.nodes[id].op else {
        return vec![];
    };
    let (x, m) = (&values[input], &values[id]);
    let (rows, cols) = (x.shape.rows, x.shape.cols);
    let lc = x.shape.log_cols();
    let block_rows = rows >> graph.log_blocks;
    let mut h = vec![M31::from_u32_unchecked(0); 1 << x.shape.n_vars()];
    for i in 0..rows {
        let allowed = (0..cols).filter(|&j| model::softmax::allowed(causal, i % block_rows, j));
        let best = allowed
            .clone()
            .find(|&j| x.get(i, j) == m.data[i])
            .or_else(|| allowed.max_by_key(|&j| (x.get(i, j), std::cmp::Reverse(j))));
        if let Some(j) = best {
            h[(i << lc) + j] = M31::from_u32_unchecked(1);
        }
    }
    h
}

#[cfg(feature = "prover")]
/// The component tables of a softmax lookup column that are not node values themselves.
pub fn column_tables(
    graph: &Graph,
    kind: ColumnKind,
    vals: &[Vec<M31>],
    one_hot: &[M31],
) -> Vec<Vec<M31>> {
    let col_of = |node: NodeId, shape: Shape| -> Vec<M31> {
        let lc = shape.log_cols();
        (0..1usize << shape.n_vars())
            .map(|b| vals[node][(b >> lc) << 1])
            .collect()
    };
    match kind {
        ColumnKind::SoftmaxOneHot(_) => vec![one_hot.to_vec()],
        ColumnKind::SoftmaxGap(id) => {
            let x = graph.nodes[id].op.inputs()[0];
            let m = col_of(id, graph.nodes[x].shape);
            vec![m.iter().zip(&vals[x]).map(|(&m, &x)| m - x).collect()]
        }
        ColumnKind::SoftmaxExp(id) => {
            let Op::SoftmaxExp { input, max, .. } = graph.nodes[id].op else {
                return vec![];
            };
            let m = col_of(max, graph.nodes[input].shape);
            let arg = vals[input].iter().zip(&m).map(|(&x, &m)| x - m).collect();
            vec![arg, vals[id].clone()]
        }
        ColumnKind::SoftmaxRem(id) | ColumnKind::SoftmaxRemGap(id) => {
            let Op::SoftmaxDiv { input, shift, .. } = graph.nodes[id].op else {
                return vec![];
            };
            let lc = graph.nodes[id].shape.log_cols();
            let e = &vals[input];
            let s: Vec<M31> = e.chunks(1 << lc).map(|r| r.iter().copied().sum()).collect();
            let q = M31::from_u32_unchecked(1 << shift);
            let one = M31::from_u32_unchecked(1);
            let rem = (0..e.len()).map(|b| {
                let r = e[b] * q - vals[id][b] * s[b >> lc];
                if matches!(kind, ColumnKind::SoftmaxRem(_)) {
                    r
                } else {
                    s[b >> lc] - one - r
                }
            });
            vec![rem.collect()]
        }
        _ => vec![],
    }
}

/// `SoftmaxMax`, `SoftmaxExp`, `SoftmaxDiv`: proved at their place in the walk, always.
pub struct SoftmaxLayer;

impl Layer for SoftmaxLayer {
    fn is_advice(&self) -> bool {
        true
    }

    fn columns(&self, s: &GraphShape, id: NodeId) -> Vec<ColumnDef> {
        let node = &s.nodes[id];
        let act = TableKind::Range {
            lo: model::execute::ACT_LO,
            log_size: ACT_BITS,
        };
        let bit = TableKind::Range { lo: 0, log_size: 1 };
        let gap = TableKind::Range {
            lo: 0,
            log_size: ACT_BITS,
        };
        match node.op {
            Op::SoftmaxMax { input, causal } => {
                let mask = Some(softmax_mask(s.nodes[input].shape, causal, s.log_blocks));
                vec![
                    (ColumnKind::SoftmaxOneHot(id), bit, None),
                    (ColumnKind::SoftmaxGap(id), gap, mask),
                ]
            }
            Op::SoftmaxExp { table, causal, .. } => vec![(
                ColumnKind::SoftmaxExp(id),
                TableKind::Committed {
                    log_size: ACT_BITS,
                    id: table as u32,
                },
                Some(softmax_mask(node.shape, causal, s.log_blocks)),
            )],
            Op::SoftmaxDiv { causal, .. } => {
                let mask = Some(softmax_mask(node.shape, causal, s.log_blocks));
                vec![
                    (ColumnKind::SoftmaxRem(id), gap, mask),
                    (ColumnKind::SoftmaxRemGap(id), gap, mask),
                    (ColumnKind::SoftmaxOut(id), act, None),
                ]
            }
            _ => Vec::new(),
        }
    }

    fn visit(&self, _: &Circuit, _: NodeId, _: bool) -> Visit {
        Visit::Standalone
    }

    #[cfg(feature = "prover")]
    fn prove(
        &self,
        cx: &ProveCx<'_>,
        id: NodeId,
        _: Option<Claim>,
        to: &mut Router<'_>,
        channel: &mut Blake2sChannel,
    ) -> Result<LayerProof, ProveError> {
        let circuit = cx.circuit;
        let vals = cx.vals;
        let pending = to.take_held(id);
        let split = held_claims(circuit, id, pending, to);
        let (mask, input) = mask_of(&circuit.shape, id);
        let first = split.first().ok_or_else(not_mine)?;
        let (layer, out) = match circuit.shape.nodes[id].op {
            Op::SoftmaxMax { .. } => {
                let hot = cx.one_hot(id);
                let (p, out) =
                    sm::prove_row_max(&vals[input], &vals[id], hot, &mask, first, channel);
                (LayerProof::SoftmaxMax(p), out)
            }
            Op::SoftmaxExp { .. } => {
                let (p, out) =
                    sm::prove_softmax_exp(&vals[input], &vals[id], &mask, first, channel);
                (LayerProof::SoftmaxExp(p), out)
            }
            Op::SoftmaxDiv { shift, .. } => {
                let second = split.get(1).ok_or_else(not_mine)?;
                let (p, out) = sm::prove_softmax_div(
                    &vals[input],
                    &vals[id],
                    &mask,
                    shift,
                    first,
                    second,
                    channel,
                );
                (LayerProof::SoftmaxDiv(p), out)
            }
            _ => return Err(not_mine()),
        };
        route(circuit, id, out, to);
        Ok(layer)
    }

    fn verify(
        &self,
        cx: &VerifyCx<'_>,
        id: NodeId,
        _: Option<Claim>,
        proof: &LayerProof,
        to: &mut Router<'_>,
        channel: &mut Blake2sChannel,
    ) -> Result<(), VerifyError> {
        let circuit = cx.circuit;
        let node = &circuit.shape.nodes[id];
        let pending = to.take_held(id);
        let split = held_claims(circuit, id, pending, to);
        let (mask, _) = mask_of(&circuit.shape, id);
        let need = if matches!(node.op, Op::SoftmaxDiv { .. }) {
            2
        } else {
            1
        };
        if split.len() != need {
            return Err(VerifyError::MalformedProof(
                "softmax lookup claims do not match the circuit".into(),
            ));
        }
        let out = match (&node.op, proof) {
            (Op::SoftmaxMax { .. }, LayerProof::SoftmaxMax(p)) => {
                sm::verify_row_max(p, &mask, &split[0], channel)
            }
            (Op::SoftmaxExp { .. }, LayerProof::SoftmaxExp(p)) => {
                sm::verify_softmax_exp(p, &mask, &split[0], channel)
            }
            (&Op::SoftmaxDiv { shift, .. }, LayerProof::SoftmaxDiv(p)) => {
                sm::verify_softmax_div(p, &mask, shift, &split[0], &split[1], channel)
            }
            _ => return Err(mismatch()),
        }
        .map_err(layer_err(circuit, id))?;
        route(circuit, id, out, to);
        Ok(())
    }
}

/// Routes a softmax step's output claims: on its input, its max (or the max node's), and its
/// auxiliary witness (one-hot advice for the row max).
fn route(circuit: &Circuit, id: NodeId, out: sm::SoftmaxClaims, to: &mut Router<'_>) {
    let op = &circuit.shape.nodes[id].op;
    let input = op.inputs()[0];
    out.input.into_iter().for_each(|c| to.node(input, c));
    match *op {
        Op::SoftmaxMax { .. } => {
            out.max.into_iter().for_each(|c| to.node(id, c));
            one_hot_claims(circuit, id, out.aux, to);
        }
        Op::SoftmaxExp { max, .. } => {
            out.max.into_iter().for_each(|c| to.node(max, c));
            out.aux.into_iter().for_each(|c| to.node(id, c));
        }
        _ => out.aux.into_iter().for_each(|c| to.node(id, c)),
    }
}

fn one_hot_claims(circuit: &Circuit, id: NodeId, claims: Vec<Claim>, to: &mut Router<'_>) {
    if let Some(item) = circuit.one_hot_item(id) {
        for c in &claims {
            to.advice(item, c);
        }
    }
}

/// Routes the held lookup claims of node `id` that need no split (one-hot, exp value,
/// quotient range) and returns the ones its reduction splits.
fn held_claims(
    circuit: &Circuit,
    id: NodeId,
    pending: Vec<Vec<Claim>>,
    to: &mut Router<'_>,
) -> Vec<Claim> {
    let mut split = Vec::new();
    for ((kind, _), mut comps) in circuit
        .columns
        .iter()
        .filter(|(k, _)| column_node(*k) == Some(id))
        .zip(pending)
    {
        match kind {
            ColumnKind::SoftmaxOneHot(_) => one_hot_claims(circuit, id, comps, to),
            ColumnKind::SoftmaxOut(_) => comps.into_iter().for_each(|c| to.node(id, c)),
            ColumnKind::SoftmaxExp(_) => {
                comps.drain(1..).for_each(|c| to.node(id, c));
                split.extend(comps);
            }
            _ => split.extend(comps),
        }
    }
    split
}

/// The softmax node a column belongs to.
pub fn column_node(kind: ColumnKind) -> Option<NodeId> {
    match kind {
        ColumnKind::SoftmaxOneHot(id)
        | ColumnKind::SoftmaxGap(id)
        | ColumnKind::SoftmaxExp(id)
        | ColumnKind::SoftmaxRem(id)
        | ColumnKind::SoftmaxRemGap(id)
        | ColumnKind::SoftmaxOut(id) => Some(id),
        _ => None,
    }
}

fn mask_of(s: &GraphShape, id: NodeId) -> (gkr::lookup::RealMask, NodeId) {
    let op = &s.nodes[id].op;
    let input = op.inputs()[0];
    let causal = matches!(
        *op,
        Op::SoftmaxMax { causal: true, .. }
            | Op::SoftmaxExp { causal: true, .. }
            | Op::SoftmaxDiv { causal: true, .. }
    );
    (
        softmax_mask(s.nodes[input].shape, causal, s.log_blocks),
        input,
    )
}
