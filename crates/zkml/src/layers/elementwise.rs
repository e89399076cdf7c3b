//! Entrywise layers: `Add`, `Mul`, a bias row (`AddBias`), a per-row factor (`MulColumn`), a
//! committed gain (`MulWeight`, `MulWeightRows` for RoPE's per-position tables). Sums are
//! relabellings of one claim; products are one degree-3 sumcheck (`gkr::elementwise`).

#[cfg(feature = "prover")]
use gkr::elementwise::{prove_add, prove_add_bias, prove_mul};
use gkr::elementwise::{verify_add, verify_add_bias, verify_mul};
use gkr::Claim;
use model::{NodeId, Op};
use stwo::core::channel::Blake2sChannel;
#[cfg(feature = "prover")]
use stwo::core::fields::m31::M31;

use super::{layer_err, mismatch, reduce_claim, Layer, Router, VerifyCx};
#[cfg(feature = "prover")]
use super::{not_mine, ProveCx};
#[cfg(feature = "prover")]
use crate::error::ProveError;
use crate::error::VerifyError;
use crate::proof::LayerProof;
use crate::views::{column_claim, rows_weight_claim, weight_claim, weight_view_log_rows};
#[cfg(feature = "prover")]
use crate::views::{mul_weight_view, rows_weight_view};

/// `Add`, `Mul`, `AddBias`, `MulColumn`, `MulWeight`, `MulWeightRows`.
pub struct ElementwiseLayer;

impl Layer for ElementwiseLayer {
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
        let shape = s.nodes[id].shape;
        let vals = cx.vals;
        Ok(match s.nodes[id].op {
            Op::AddBias { input, bias } => {
                let b = cx.model.weight_table(bias);
                let (rows, log_rows) = bias_rows(s.weights[bias].0, shape);
                let (p, cx, cb) = prove_add_bias(&b, rows, log_rows, &claim, channel);
                to.node(input, cx);
                to.weight(bias, &cb);
                LayerProof::AddBias(p)
            }
            Op::Add { lhs, rhs } => {
                let (p, cl, cr) = prove_add(&vals[lhs], &claim, channel);
                to.node(lhs, cl);
                to.node(rhs, cr);
                LayerProof::Add(p)
            }
            Op::Mul { lhs, rhs } => {
                let (p, cl, cr) = prove_mul(&vals[lhs], &vals[rhs], &claim, channel);
                to.node(lhs, cl);
                to.node(rhs, cr);
                LayerProof::Mul(p)
            }
            Op::MulColumn { lhs, rhs } => {
                let lc = shape.log_cols();
                let col = &vals[rhs];
                let expanded: Vec<M31> =
                    (0..vals[lhs].len()).map(|i| col[(i >> lc) << 1]).collect();
                let (p, cl, cr) = prove_mul(&vals[lhs], &expanded, &claim, channel);
                to.node(lhs, cl);
                to.node(rhs, column_claim(&cr, shape.log_rows() as usize));
                LayerProof::Mul(p)
            }
            Op::MulWeight { input, weight } => {
                let w = cx.model.weight_table(weight);
                let view_rows = weight_view_log_rows(s.weights[weight].0, shape);
                let (lr, lc) = (shape.log_rows(), shape.log_cols());
                let expanded = mul_weight_view(&w, view_rows, lr, lc);
                let (p, cx, cw) = prove_mul(&vals[input], &expanded, &claim, channel);
                to.node(input, cx);
                to.weight(weight, &weight_claim(cw, view_rows as usize, lr as usize));
                LayerProof::Mul(p)
            }
            Op::MulWeightRows {
                input,
                weight,
                row0,
            } => {
                let ws = s.weights[weight].0;
                let log_blocks = s.log_blocks;
                // In a stack every block reads the same rows: the view repeats per block.
                let (lr, lc) = (shape.log_rows() - log_blocks, shape.log_cols());
                let view =
                    rows_weight_view(&cx.model.weight_table(weight), ws.log_cols(), lr, lc, row0)
                        .repeat(1 << log_blocks);
                let (p, cx, cv) = prove_mul(&vals[input], &view, &claim, channel);
                to.node(input, cx);
                to.weight(weight, &rows_claim(cv, s, id, weight, row0));
                LayerProof::Mul(p)
            }
            _ => return Err(not_mine()),
        })
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
        let shape = s.nodes[id].shape;
        let err = layer_err(cx.circuit, id);
        match (&s.nodes[id].op, proof) {
            (&Op::AddBias { input, bias }, LayerProof::AddBias(p)) => {
                let (rows, log_rows) = bias_rows(s.weights[bias].0, shape);
                let (cx, cb) = verify_add_bias(p, rows, log_rows, &claim, channel).map_err(err)?;
                to.node(input, cx);
                to.weight(bias, &cb);
            }
            (&Op::Add { lhs, rhs }, LayerProof::Add(p)) => {
                let (cl, cr) = verify_add(p, &claim, channel);
                to.node(lhs, cl);
                to.node(rhs, cr);
            }
            (&Op::Mul { lhs, rhs }, LayerProof::Mul(p)) => {
                let (cl, cr) = verify_mul(p, &claim, channel).map_err(err)?;
                to.node(lhs, cl);
                to.node(rhs, cr);
            }
            (&Op::MulColumn { lhs, rhs }, LayerProof::Mul(p)) => {
                let (cl, cr) = verify_mul(p, &claim, channel).map_err(err)?;
                to.node(lhs, cl);
                to.node(rhs, column_claim(&cr, shape.log_rows() as usize));
            }
            (&Op::MulWeight { input, weight }, LayerProof::Mul(p)) => {
                let (cx, cw) = verify_mul(p, &claim, channel).map_err(err)?;
                to.node(input, cx);
                let view_rows = weight_view_log_rows(s.weights[weight].0, shape);
                let cw = weight_claim(cw, view_rows as usize, shape.log_rows() as usize);
                to.weight(weight, &cw);
            }
            (
                &Op::MulWeightRows {
                    input,
                    weight,
                    row0,
                },
                LayerProof::Mul(p),
            ) => {
                let (cx, cv) = verify_mul(p, &claim, channel).map_err(err)?;
                to.node(input, cx);
                to.weight(weight, &rows_claim(cv, s, id, weight, row0));
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}

/// The claim on a `MulWeightRows` weight from the claim on its view: a stack's block
/// coordinates are dropped (every block reads the same rows), then the rows' window is placed.
fn rows_claim(
    view: Claim,
    s: &crate::circuit::GraphShape,
    id: NodeId,
    weight: usize,
    row0: usize,
) -> Claim {
    let log_blocks = s.log_blocks as usize;
    let ws = s.weights[weight].0;
    let cv = Claim::new(view.point[log_blocks..].to_vec(), view.value);
    rows_weight_claim(
        &cv,
        s.nodes[id].shape.log_rows() as usize - log_blocks,
        ws.log_rows() as usize,
        ws.log_cols() as usize,
        row0,
    )
}

/// The rows a bias is broadcast over and how many leading point coordinates they take: a
/// `1 x n` row covers the output's real rows; a bias of the output's shape (`m x n`, its
/// padding zero) is added entry by entry, its claim on the whole point.
fn bias_rows(bias: model::Shape, out: model::Shape) -> (usize, usize) {
    if bias.rows == 1 {
        (out.rows, out.log_rows() as usize)
    } else {
        (1, 0)
    }
}
