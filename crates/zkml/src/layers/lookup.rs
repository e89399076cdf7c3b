//! Lookup layers: `Relu` (pairs in the ReLU table), `Rescale` (output in its range, remainder
//! in `[-2^(s-1), 2^(s-1))`), `Lookup` (pairs in a committed function table). Their values are
//! advice; their LogUp columns are proved together by `gkr::lookup`, and this file routes the
//! column claims (for every family, softmax included) onto nodes. A `Lookup` on a padded
//! tensor also proves its padding is zero.

use gkr::lookup::{LookupClaims, RealMask};
use gkr::{Claim, TableKind};
use model::execute::rescale_output_log_range;
use model::{NodeId, Op, ACT_BITS};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;

use super::{mismatch, ColumnDef, Layer, Router, VerifyCx, Visit};
#[cfg(feature = "prover")]
use super::{not_mine, ProveCx};
use crate::circuit::{softmax_mask, Circuit, ColumnKind, GraphShape};
#[cfg(feature = "prover")]
use crate::error::ProveError;
use crate::error::VerifyError;
use crate::proof::LayerProof;

/// `Relu`, `Rescale`, `Lookup`.
pub struct LookupLayer;

impl Layer for LookupLayer {
    fn is_advice(&self) -> bool {
        true
    }

    fn columns(&self, s: &GraphShape, id: NodeId) -> Vec<ColumnDef> {
        let node = &s.nodes[id];
        match node.op {
            Op::Rescale { shift, .. } => vec![
                (
                    ColumnKind::RescaleOutput(id),
                    rescale_output_range(shift),
                    None,
                ),
                (
                    ColumnKind::RescaleRemainder(id),
                    TableKind::Range {
                        lo: -(1i64 << (shift - 1)),
                        log_size: shift,
                    },
                    None,
                ),
            ],
            // f(0) need not be 0 (exp, sigmoid): padding takes no part.
            Op::Lookup { table, .. } => vec![(
                ColumnKind::Lookup(id),
                TableKind::Committed {
                    log_size: ACT_BITS,
                    id: table as u32,
                },
                Some(softmax_mask(node.shape, false, s.log_blocks)),
            )],
            Op::Relu { .. } => vec![(
                ColumnKind::Relu(id),
                TableKind::Relu { log_size: ACT_BITS },
                None,
            )],
            _ => Vec::new(),
        }
    }

    fn visit(&self, c: &Circuit, id: NodeId, _: bool) -> Visit {
        match padded_lookup_mask(&c.shape, id) {
            Some(_) => Visit::Standalone,
            None => Visit::Skip,
        }
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
        let mask = padded_lookup_mask(&cx.circuit.shape, id).ok_or_else(not_mine)?;
        let (p, c) = gkr::softmax::prove_zero_off_mask(&cx.vals[id], &mask, channel);
        to.node(id, c);
        Ok(LayerProof::ZeroPadding(p))
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
        let mask = padded_lookup_mask(&cx.circuit.shape, id).ok_or_else(mismatch)?;
        let LayerProof::ZeroPadding(p) = proof else {
            return Err(mismatch());
        };
        let c = gkr::softmax::verify_zero_off_mask(p, &mask, channel).map_err(|source| {
            VerifyError::Layer {
                node: id,
                op: "lookup (padding)",
                source,
            }
        })?;
        to.node(id, c);
        Ok(())
    }
}

/// The real-entry mask of a `Lookup` node whose tensor has padding. Its lookup is masked (the
/// table need not hold `f(0) = 0`), so the padding of its output is forced to zero by a
/// zero-check instead; without padding there is nothing to check.
pub fn padded_lookup_mask(s: &GraphShape, id: NodeId) -> Option<RealMask> {
    let node = &s.nodes[id];
    let padded = node.shape.rows != 1 << node.shape.log_rows()
        || node.shape.cols != 1 << node.shape.log_cols();
    (matches!(node.op, Op::Lookup { .. }) && padded)
        .then(|| softmax_mask(node.shape, false, s.log_blocks))
}

/// The range a rescale output by `2^shift` is looked up in
/// ([`model::execute::rescale_output_log_range`]: the activation range up to shift 14,
/// `[-2^(29-s), 2^(29-s))` beyond, so that `x = 2^s y + r` has one decomposition in M31).
pub fn rescale_output_range(shift: u32) -> TableKind {
    let log_size = rescale_output_log_range(shift);
    TableKind::Range {
        lo: -(1i64 << (log_size - 1)),
        log_size,
    }
}

/// Routes the LogUp claims of every column onto nodes, the same for prover and verifier:
/// a rescale's remainder claim `x - 2^s y` at a point needs `y` there, which `split` supplies
/// (the prover evaluates it, the verifier reads it from the proof) and the channel absorbs.
/// Softmax columns are held for their node's step. Then the multiplicity claims go to the
/// advice and the committed tables' claims to the weights.
pub fn route_claims(
    circuit: &Circuit,
    lookup: &LookupClaims,
    to: &mut Router<'_>,
    channel: &mut Blake2sChannel,
    mut split: impl FnMut(NodeId, &Claim) -> Result<QM31, VerifyError>,
) -> Result<(), VerifyError> {
    let nodes = &circuit.shape.nodes;
    for ((kind, _), col_claims) in circuit.columns.iter().zip(&lookup.columns) {
        if let Some(id) = super::softmax::column_node(*kind) {
            to.hold(id, col_claims.clone());
            continue;
        }
        let first = || {
            col_claims
                .first()
                .cloned()
                .ok_or_else(|| VerifyError::MalformedProof("lookup column claims".into()))
        };
        match *kind {
            ColumnKind::RescaleOutput(id) => to.node(id, first()?),
            ColumnKind::RescaleRemainder(id) => {
                let Op::Rescale { input, shift } = nodes[id].op else {
                    continue;
                };
                let rem = first()?;
                let y_eval = split(id, &rem)?;
                channel.mix_felts(&[y_eval]);
                let s = M31::from_u32_unchecked(1 << shift);
                to.node(id, Claim::new(rem.point.clone(), y_eval));
                to.node(input, Claim::new(rem.point, rem.value + y_eval * s));
            }
            ColumnKind::Relu(id) | ColumnKind::Lookup(id) => {
                let (Op::Relu { input } | Op::Lookup { input, .. }) = nodes[id].op else {
                    continue;
                };
                let [x, y] = col_claims.as_slice() else {
                    return Err(VerifyError::MalformedProof("lookup pair claims".into()));
                };
                to.node(input, x.clone());
                to.node(id, y.clone());
            }
            _ => {}
        }
    }
    for (t, c) in lookup.multiplicities.iter().enumerate() {
        to.advice(circuit.multiplicity_item(t), c);
    }
    for (w, c) in circuit.committed_tables().zip(&lookup.committed) {
        to.weight(w, c);
    }
    Ok(())
}

#[cfg(feature = "prover")]
/// The witness of one lookup column: its component tables (`x` then `f(x)` for a pair).
/// Node values are borrowed from `vals`; computed components (remainders, softmax gaps) are
/// returned owned in the second part.
pub fn column_witness<'a>(cx: &ProveCx<'a>, kind: ColumnKind) -> (Vec<&'a [M31]>, Vec<Vec<M31>>) {
    let (graph, vals) = (&cx.model.graph, cx.vals);
    match kind {
        ColumnKind::RescaleOutput(id) | ColumnKind::SoftmaxOut(id) => (vec![&vals[id]], vec![]),
        ColumnKind::RescaleRemainder(id) => {
            let Op::Rescale { input, shift } = graph.nodes[id].op else {
                return (vec![], vec![]);
            };
            let s = M31::from_u32_unchecked(1 << shift);
            let rem = vals[input]
                .iter()
                .zip(&vals[id])
                .map(|(&x, &y)| x - s * y)
                .collect();
            (vec![], vec![rem])
        }
        ColumnKind::Relu(id) | ColumnKind::Lookup(id) => match graph.nodes[id].op {
            Op::Relu { input } | Op::Lookup { input, .. } => {
                (vec![&vals[input], &vals[id]], vec![])
            }
            _ => (vec![], vec![]),
        },
        ColumnKind::SoftmaxOneHot(id)
        | ColumnKind::SoftmaxGap(id)
        | ColumnKind::SoftmaxExp(id)
        | ColumnKind::SoftmaxRem(id)
        | ColumnKind::SoftmaxRemGap(id) => {
            let owned = super::softmax::column_tables(graph, kind, vals, cx.one_hot(id));
            (vec![], owned)
        }
    }
}
