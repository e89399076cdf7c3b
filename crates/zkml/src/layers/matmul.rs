//! Matrix products: activations times a committed weight (`MatMul`), times the transpose of
//! one (`MatMulTransposed`, a tied LM head reading the embedding table: the claim lands on
//! the stored `n x k` table at `(r_n, rho)`) and activations times activations (`MatMulAct`,
//! e.g. `Q K^T`, `P V`), block-diagonal in a stack. One sumcheck over the inner dimension
//! (`gkr::matmul`).

use gkr::matmul::{self, MatMulDims};
use gkr::Claim;
use model::{NodeId, Op, Shape};
use stwo::core::channel::Blake2sChannel;
#[cfg(feature = "prover")]
use stwo::core::fields::m31::M31;

use super::{layer_err, mismatch, reduce_claim, Layer, Router, VerifyCx};
#[cfg(feature = "prover")]
use super::{not_mine, ProveCx};
use crate::circuit::GraphShape;
#[cfg(feature = "prover")]
use crate::error::ProveError;
use crate::error::VerifyError;
use crate::proof::LayerProof;

/// `MatMul`, `MatMulTransposed` and `MatMulAct`.
pub struct MatMulLayer;

/// The product's dimensions: `lhs` (per block) times a `k x n` operand.
fn dims(s: &GraphShape, id: NodeId, lhs: NodeId, transpose_rhs: bool) -> MatMulDims {
    let x = s.nodes[lhs].shape;
    MatMulDims {
        log_m: x.log_rows() - s.log_blocks,
        log_k: x.log_cols(),
        log_n: s.nodes[id].shape.log_cols(),
        transpose_rhs,
        log_blocks: s.log_blocks,
    }
}

/// Zero rows a matmul's right operand gains in the product's table: the row variables the
/// product needs minus the operand's own. Non-zero only for a one-row operand (e.g. the keys and
/// values at seq_len 1) against a dimension that shapes pad to two.
pub fn rhs_padding_vars(dims: MatMulDims, rhs: Shape) -> usize {
    let needed = if dims.transpose_rhs {
        dims.log_n
    } else {
        dims.log_k
    };
    needed.saturating_sub(rhs.log_rows() - dims.log_blocks) as usize
}

impl Layer for MatMulLayer {
    #[cfg(feature = "prover")]
    fn prove(
        &self,
        cx: &ProveCx<'_>,
        id: NodeId,
        claim: Option<Claim>,
        to: &mut Router<'_>,
        channel: &mut Blake2sChannel,
    ) -> Result<LayerProof, ProveError> {
        let claim = reduce_claim(claim, not_mine())?;
        let s = &cx.circuit.shape;
        match s.nodes[id].op {
            Op::MatMul { input, weight } => {
                let d = dims(s, id, input, false);
                let a = &cx.vals[input];
                let (p, ca, cw) = if d.log_blocks == 0 {
                    // The weight folded tile by tile: a tiled weight is never padded.
                    let eq_n = sumcheck::mle::eq_evals(&claim.point[d.log_m as usize..]);
                    let w = cx.model.weight_view(weight).fold_cols(&eq_n);
                    matmul::prove_folded(a, w, d, &claim, channel)
                } else {
                    matmul::prove(a, &cx.model.weight_table(weight), d, &claim, channel)
                };
                to.node(input, ca);
                to.weight(weight, &cw);
                Ok(LayerProof::MatMul(p))
            }
            Op::MatMulTransposed { input, weight } => {
                let d = dims(s, id, input, true);
                let eq_n = sumcheck::mle::eq_evals(&claim.point[d.log_m as usize..]);
                let w = cx.model.weight_view(weight).fold_rows(&eq_n);
                let (p, ca, cw) = matmul::prove_folded(&cx.vals[input], w, d, &claim, channel);
                to.node(input, ca);
                to.weight(weight, &cw);
                Ok(LayerProof::MatMul(p))
            }
            Op::MatMulAct {
                lhs,
                rhs,
                transpose_rhs,
            } => {
                let d = dims(s, id, lhs, transpose_rhs);
                let extra = rhs_padding_vars(d, s.nodes[rhs].shape);
                let mut rhs_table = cx.vals[rhs].clone();
                rhs_table.resize(rhs_table.len() << extra, M31::from(0u32));
                let (p, cl, cr) = matmul::prove(&cx.vals[lhs], &rhs_table, d, &claim, channel);
                let cr = cr.strip_zero_padding(extra).ok_or(ProveError::Degenerate)?;
                to.node(lhs, cl);
                to.node(rhs, cr);
                Ok(LayerProof::MatMul(p))
            }
            _ => Err(not_mine()),
        }
    }

    fn verify(
        &self,
        cx: &VerifyCx<'_>,
        id: NodeId,
        claim: Option<Claim>,
        proof: &LayerProof,
        to: &mut Router<'_>,
        channel: &mut Blake2sChannel,
    ) -> Result<(), VerifyError> {
        let claim = reduce_claim(claim, mismatch())?;
        let s = &cx.circuit.shape;
        let err = layer_err(cx.circuit, id);
        let LayerProof::MatMul(p) = proof else {
            return Err(mismatch());
        };
        match s.nodes[id].op {
            Op::MatMul { input, weight } => {
                let d = dims(s, id, input, false);
                let (ca, cw) = matmul::verify(p, d, &claim, channel).map_err(err)?;
                to.node(input, ca);
                to.weight(weight, &cw);
            }
            Op::MatMulTransposed { input, weight } => {
                let d = dims(s, id, input, true);
                let (ca, cw) = matmul::verify(p, d, &claim, channel).map_err(err)?;
                to.node(input, ca);
                to.weight(weight, &cw);
            }
            Op::MatMulAct {
                lhs,
                rhs,
                transpose_rhs,
            } => {
                let d = dims(s, id, lhs, transpose_rhs);
                let (cl, cr) = matmul::verify(p, d, &claim, channel).map_err(err)?;
                let extra = rhs_padding_vars(d, s.nodes[rhs].shape);
                let cr = cr
                    .strip_zero_padding(extra)
                    .ok_or_else(|| VerifyError::MalformedProof("degenerate matmul point".into()))?;
                to.node(lhs, cl);
                to.node(rhs, cr);
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}
