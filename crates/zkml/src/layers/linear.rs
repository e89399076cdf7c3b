//! Linear maps with no weights: row sums, constants, column and row slices, concatenations,
//! a column broadcast, RoPE's half rotation (`gkr::linear`). Slices are relabellings of the
//! claim's point; the others cost one sumcheck or a few sent evaluations.

use gkr::gather::{self, GatherDims};
use gkr::linear;
use gkr::Claim;
use model::tensor::to_m31;
use model::window::{Gather, Window};
use model::{NodeId, Op, Shape};
use stwo::core::channel::Blake2sChannel;

use super::{layer_err, mismatch, reduce_claim, Layer, Router, VerifyCx};
#[cfg(feature = "prover")]
use super::{not_mine, ProveCx};
#[cfg(feature = "prover")]
use crate::error::ProveError;
use crate::error::VerifyError;
use crate::proof::LayerProof;

/// `RowSum`, `MulConst`, `AddConst`, `ColumnSlice`, `RowSlice`, `ConcatAligned`,
/// `ConcatColumns`, `BroadcastColumn`, `RotateHalf`, `WindowGather`.
pub struct LinearLayer;

/// The padded sizes of a window gather from `x`'s and the output's shapes (checked by the
/// shape rules when the circuit was built).
fn gather_dims(window: &Window, mode: Gather, x: Shape, y: Shape) -> GatherDims {
    let blocks = window.blocks(mode);
    GatherDims {
        log_rows_out: y.log_rows() as usize,
        log_blocks: if blocks == 1 {
            0
        } else {
            blocks.next_power_of_two().ilog2() as usize
        },
        log_rows_x: x.log_rows() as usize,
        log_cols_x: x.log_cols() as usize,
    }
}

/// The gather's entries, as `gkr::gather` reads them.
fn gather_map(window: &Window, mode: Gather) -> impl Fn(&mut dyn FnMut(usize, usize, usize)) + '_ {
    move |f: &mut dyn FnMut(usize, usize, usize)| window.for_each_entry(mode, &mut *f)
}

impl Layer for LinearLayer {
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
        let nodes = &s.nodes;
        let shape = nodes[id].shape;
        let vals = cx.vals;
        Ok(match nodes[id].op {
            Op::RowSum { input } => {
                let xs = nodes[input].shape;
                let (lr, lc) = (xs.log_rows() as usize, xs.log_cols() as usize);
                let (p, cx) = linear::prove_row_sum(&vals[input], lr, lc, &claim, channel);
                to.node(input, cx);
                LayerProof::Eval(p)
            }
            Op::MulConst { input, .. } => {
                let (p, cx) = linear::prove_mul_const(&vals[input], &claim, channel);
                to.node(input, cx);
                LayerProof::Eval(p)
            }
            Op::AddConst { input, c } => {
                let lr = shape.log_rows() as usize;
                let cx = linear::add_const_claim(to_m31(c), shape.rows, shape.cols, lr, &claim)?;
                to.node(input, cx);
                LayerProof::AddConst
            }
            Op::ColumnSlice { input, start, len } => {
                let x = nodes[input].shape;
                let (lr, lc) = (x.log_rows() as usize, x.log_cols() as usize);
                let l = len.ilog2() as usize;
                to.node(input, linear::slice_claim(&claim, lr, lc, l, start / len)?);
                LayerProof::Relabel
            }
            Op::RowSlice { input, start, len } => {
                let x = nodes[input].shape;
                let (lr, lc) = (x.log_rows() as usize, x.log_cols() as usize);
                let l = len.ilog2() as usize;
                to.node(
                    input,
                    linear::row_slice_claim(&claim, lr, lc, l, start / len)?,
                );
                LayerProof::Relabel
            }
            Op::ConcatAligned { ref parts } => {
                let tables: Vec<_> = parts.iter().map(|&p| vals[p].as_slice()).collect();
                let widths: Vec<usize> = parts
                    .iter()
                    .map(|&p| nodes[p].shape.log_cols() as usize)
                    .collect();
                let lr = shape.log_rows() as usize;
                let (p, cs) = linear::prove_concat_aligned(&tables, lr, &widths, &claim, channel);
                for (&part, c) in parts.iter().zip(cs) {
                    to.node(part, c);
                }
                LayerProof::Evals(p)
            }
            Op::ConcatColumns { ref parts } => {
                let w = nodes[parts[0]].shape;
                let tables: Vec<_> = parts.iter().map(|&p| vals[p].as_slice()).collect();
                let (lr, lw) = (w.log_rows() as usize, w.log_cols() as usize);
                let (p, cs) = linear::prove_concat(&tables, lr, lw, &claim, channel);
                for (&part, c) in parts.iter().zip(cs) {
                    to.node(part, c);
                }
                LayerProof::Evals(p)
            }
            Op::BroadcastColumn { input, .. } => {
                let lr = shape.log_rows() as usize;
                let (p, cx) = linear::prove_broadcast_column(&vals[input], lr, &claim, channel);
                to.node(input, cx);
                LayerProof::Eval(p)
            }
            Op::BroadcastRow { input, .. } => {
                let lr = shape.log_rows() as usize;
                let (p, cx) = linear::prove_broadcast_row(&vals[input], lr, &claim, channel);
                to.node(input, cx);
                LayerProof::Eval(p)
            }
            Op::WindowGather {
                input,
                ref window,
                mode,
            } => {
                let dims = gather_dims(window, mode, nodes[input].shape, shape);
                let map = gather_map(window, mode);
                let (p, cx) = gather::prove(&vals[input], dims, &map, &claim, channel);
                to.node(input, cx);
                LayerProof::Gather(p)
            }
            Op::RotateHalf { input, log_block } => {
                let t = (shape.log_rows() + shape.log_cols() - log_block) as usize;
                let (p, c0, c1) = linear::prove_rotate_half(&vals[input], t, &claim, channel);
                to.node(input, c0);
                to.node(input, c1);
                LayerProof::Pair(p)
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
        let nodes = &cx.circuit.shape.nodes;
        let shape = nodes[id].shape;
        let err = layer_err(cx.circuit, id);
        match (&nodes[id].op, proof) {
            (&Op::RowSum { input }, LayerProof::Eval(p)) => {
                let xs = nodes[input].shape;
                let (lr, lc) = (xs.log_rows() as usize, xs.log_cols() as usize);
                let cx = linear::verify_row_sum(p, lr, lc, &claim, channel).map_err(err)?;
                to.node(input, cx);
            }
            (&Op::MulConst { input, c, .. }, LayerProof::Eval(p)) => {
                let cx = linear::verify_mul_const(p, to_m31(c), &claim, channel).map_err(err)?;
                to.node(input, cx);
            }
            (&Op::AddConst { input, c }, LayerProof::AddConst) => {
                let lr = shape.log_rows() as usize;
                let cx = linear::add_const_claim(to_m31(c), shape.rows, shape.cols, lr, &claim)
                    .map_err(err)?;
                to.node(input, cx);
            }
            (&Op::ColumnSlice { input, start, len }, LayerProof::Relabel) => {
                let x = nodes[input].shape;
                let (lr, lc) = (x.log_rows() as usize, x.log_cols() as usize);
                let l = len.ilog2() as usize;
                let cx = linear::slice_claim(&claim, lr, lc, l, start / len).map_err(err)?;
                to.node(input, cx);
            }
            (&Op::RowSlice { input, start, len }, LayerProof::Relabel) => {
                let x = nodes[input].shape;
                let (lr, lc) = (x.log_rows() as usize, x.log_cols() as usize);
                let l = len.ilog2() as usize;
                let cx = linear::row_slice_claim(&claim, lr, lc, l, start / len).map_err(err)?;
                to.node(input, cx);
            }
            (Op::ConcatAligned { parts }, LayerProof::Evals(p)) => {
                let widths: Vec<usize> = parts
                    .iter()
                    .map(|&q| nodes[q].shape.log_cols() as usize)
                    .collect();
                let (lr, lc) = (shape.log_rows() as usize, shape.log_cols() as usize);
                let cs = linear::verify_concat_aligned(p, lr, lc, &widths, &claim, channel)
                    .map_err(err)?;
                for (&part, c) in parts.iter().zip(cs) {
                    to.node(part, c);
                }
            }
            (Op::ConcatColumns { parts }, LayerProof::Evals(p)) => {
                let w = nodes[parts[0]].shape;
                let (lr, lw) = (w.log_rows() as usize, w.log_cols() as usize);
                let cs =
                    linear::verify_concat(p, parts.len(), lr, lw, &claim, channel).map_err(err)?;
                for (&part, c) in parts.iter().zip(cs) {
                    to.node(part, c);
                }
            }
            (&Op::BroadcastColumn { input, cols }, LayerProof::Eval(p)) => {
                let lr = shape.log_rows() as usize;
                let cx =
                    linear::verify_broadcast_column(p, lr, cols, &claim, channel).map_err(err)?;
                to.node(input, cx);
            }
            (&Op::BroadcastRow { input, rows }, LayerProof::Eval(p)) => {
                let lr = shape.log_rows() as usize;
                let cx = linear::verify_broadcast_row(p, lr, rows, &claim, channel).map_err(err)?;
                to.node(input, cx);
            }
            (
                &Op::WindowGather {
                    input,
                    ref window,
                    mode,
                },
                LayerProof::Gather(p),
            ) => {
                let dims = gather_dims(window, mode, nodes[input].shape, shape);
                let map = gather_map(window, mode);
                let cx = gather::verify(p, dims, &map, &claim, channel).map_err(err)?;
                to.node(input, cx);
            }
            (&Op::RotateHalf { input, log_block }, LayerProof::Pair(p)) => {
                let t = (shape.log_rows() + shape.log_cols() - log_block) as usize;
                let (c0, c1) = linear::verify_rotate_half(p, t, &claim, channel).map_err(err)?;
                to.node(input, c0);
                to.node(input, c1);
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}
