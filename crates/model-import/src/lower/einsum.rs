//! `EinSum` with one constant operand (ONNX MatMul / Gemm, with tract's folded reshapes)
//! as a matmul `x (rows x K) . W (K x N)`.
//!
//! Axes are classified by where they occur: in the activation and the output (rows), in the
//! activation and the weight but not the output (contracted, K), in the weight and the output
//! (N). Size-1 axes are ignored. The activation's axes must read `rows..., K...` and the
//! output's `rows..., N...`, so that both are the row-major flattening our 2-D views use; the
//! weight is permuted into `K x N`.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::einsum::EinSum;

use super::{Lowerer, Val};
use crate::error::ImportError;
use crate::plan::{PlanOp, StepId};

impl Lowerer<'_> {
    pub(super) fn einsum(&mut self, node: &TypedNode, op: &EinSum) -> Result<Val, ImportError> {
        if op.q_params.is_some() || node.inputs.len() != 2 {
            return Err(self.unsupported(node, " (quantised or with more than two operands)"));
        }
        let ((a0, va), (a1, vb)) = (self.operand(node, 0)?, self.operand(node, 1)?);
        let (a_slot, w) = match (&va, &vb) {
            (_, Val::Const(w)) if !matches!(va, Val::Const(_)) => (0, w.clone()),
            (Val::Const(w), _) if !matches!(vb, Val::Const(_)) => (1, w.clone()),
            _ => return Err(self.unsupported(node, " between two activations")),
        };
        let w_slot = 1 - a_slot;
        let a_in = if a_slot == 0 { a0 } else { a1 };
        let a_dims = self.dims(a_in)?;
        let out_dims = self.dims(OutletId::new(node.id, 0))?;
        let w_dims = w.shape().to_vec();
        // (position in activation, position in output) etc., only for axes of size > 1.
        let (mut rows, mut k, mut n) = (vec![], vec![], vec![]);
        let mut w_unit = vec![];
        for axis in op.axes.iter_all_axes() {
            let pos = |v: &[usize]| v.first().copied();
            let (pa, pw, po) = (
                pos(&axis.inputs[a_slot]),
                pos(&axis.inputs[w_slot]),
                pos(&axis.outputs[0]),
            );
            if axis.inputs.iter().chain(&axis.outputs).any(|v| v.len() > 1) {
                return Err(self.unsupported(node, " (a repeated axis)"));
            }
            let size = pa
                .map(|p| a_dims[p])
                .or(pw.map(|p| w_dims[p]))
                .or(po.map(|p| out_dims[p]))
                .unwrap_or(1);
            match (pa, pw, po) {
                _ if size == 1 => {
                    if let Some(p) = pw {
                        w_unit.push(p);
                    }
                }
                (Some(a), None, Some(o)) => rows.push((a, o)),
                (Some(a), Some(w), None) => k.push((a, w)),
                (None, Some(w), Some(o)) => n.push((w, o)),
                _ => {
                    return Err(self.unsupported(
                        node,
                        format!(
                            " (axis {} is not a row, contracted or column axis)",
                            axis.repr
                        ),
                    ))
                }
            }
        }
        rows.sort_unstable();
        k.sort_unstable();
        n.sort_unstable_by_key(|&(_, o)| o);
        if !matches!(self.vals.get(&a_in), Some(Val::PixelMajor { .. })) {
            let x = self.act(a_in, &node.name)?;
            if let Some(nchw) = self.nchw_of(&a_dims, x) {
                let axes = Axes {
                    rows: &rows,
                    k: &k,
                    n: &n,
                    w_unit: &w_unit,
                };
                return self.channel_mix(node, x, nchw, &axes, &w, &out_dims);
            }
        }
        let in_order = rows.iter().map(|r| r.0).chain(k.iter().map(|k| k.0));
        let out_order = rows.iter().map(|r| r.1).chain(n.iter().map(|n| n.1));
        if !is_increasing(in_order) || !is_increasing(out_order) {
            return Err(self.unsupported(node, " (its axes need a transpose of the activation)"));
        }
        let n_rows: usize = rows.iter().map(|r| a_dims[r.0]).product();
        let n_k: usize = k.iter().map(|k| a_dims[k.0]).product();
        let n_cols: usize = n.iter().map(|n| w_dims[n.0]).product();
        let pixel_major = match self.vals.get(&a_in) {
            Some(&Val::PixelMajor {
                x,
                pixels,
                c,
                channel_major,
                ..
            }) => Some((x, pixels, c, channel_major)),
            _ => None,
        };
        let x = match pixel_major {
            Some((x, ..)) => x,
            None => self.act(a_in, &node.name)?,
        };
        let block = |c: usize| super::window::padded_cols(c);
        let expect = match pixel_major {
            Some((_, pixels, c, _)) if n_k == c * pixels => (n_rows, pixels * block(c)),
            _ => (n_rows, n_k),
        };
        if self.view(x) != expect {
            return Err(self.unsupported(
                node,
                format!(
                    " (needs the activation as {n_rows}x{n_k}, it is laid out as {:?}: reshapes \
                     that move the row/column split are not supported)",
                    self.view(x)
                ),
            ));
        }
        let perm: Vec<usize> = k
            .iter()
            .map(|k| k.1)
            .chain(n.iter().map(|n| n.0))
            .chain(w_unit)
            .collect();
        let mut weight = self.permuted_weight(node, &w, perm)?;
        let mut k = n_k;
        if let Some((_, pixels, c, channel_major)) = pixel_major {
            // Value `(p, ch)` of the flattening is row `p * block + ch` here.
            let b = block(c);
            let mut permuted = vec![0f32; pixels * b * n_cols];
            for ch in 0..c {
                for p in 0..pixels {
                    let at = if channel_major {
                        ch * pixels + p
                    } else {
                        p * c + ch
                    };
                    let src = &weight[at * n_cols..][..n_cols];
                    permuted[(p * b + ch) * n_cols..][..n_cols].copy_from_slice(src);
                }
            }
            weight = permuted;
            k = pixels * b;
        }
        Ok(Val::Act(self.push(
            PlanOp::MatMul {
                input: x,
                weight,
                k,
            },
            n_rows,
            n_cols,
            &node.name,
        )))
    }
}

/// The axes of a product with constant weights: `(activation, output)` positions of the row
/// axes, `(activation, weight)` of the contracted ones, `(weight, output)` of the columns,
/// and the weight's unit axes.
struct Axes<'a> {
    rows: &'a [(usize, usize)],
    k: &'a [(usize, usize)],
    n: &'a [(usize, usize)],
    w_unit: &'a [usize],
}

impl Lowerer<'_> {
    /// The weight's values with its axes in the order `perm`.
    fn permuted_weight(
        &self,
        node: &TypedNode,
        w: &Tensor,
        perm: Vec<usize>,
    ) -> Result<Vec<f32>, ImportError> {
        let view = w
            .to_array_view::<f32>()
            .map_err(|e| self.unsupported(node, format!(": {e:#}")))?;
        if perm.len() != view.ndim() {
            return Err(self.unsupported(node, " (weight axes do not match the equation)"));
        }
        Ok(view.permuted_axes(perm).iter().copied().collect())
    }

    /// A product on a channels-last feature map `x`: only a channel mix (a 1x1 convolution),
    /// whose channels are the columns already. Channels contracted, the output's channel axis
    /// from the weight, the pixels in order (tract may drop a batch of 1 from the output).
    fn channel_mix(
        &mut self,
        node: &TypedNode,
        x: StepId,
        [nb, c, h, wd]: [usize; 4],
        axes: &Axes<'_>,
        w: &Tensor,
        out_dims: &[usize],
    ) -> Result<Val, ImportError> {
        let co = axes.n.first().map_or(0, |&(wp, _)| w.shape()[wp]);
        let out_c_axis = if out_dims.len() == 2 { 0 } else { 1 };
        let channel_mix = matches!(axes.k, [(1, _)])
            && matches!(axes.n, [(_, o)] if *o == out_c_axis)
            && (2..=4).contains(&out_dims.len())
            && super::window::as_nchw(out_dims) == [nb, co, h, wd]
            && axes.rows.windows(2).all(|p| p[0].1 < p[1].1);
        if !channel_mix {
            return Err(self.unsupported(
                node,
                " on a feature map (only a channel mix: a 1x1 convolution)",
            ));
        }
        let perm: Vec<usize> = [axes.k[0].1, axes.n[0].0]
            .into_iter()
            .chain(axes.w_unit.iter().copied())
            .collect();
        let weight = self.permuted_weight(node, w, perm)?;
        let y = self.push(
            PlanOp::MatMul {
                input: x,
                weight,
                k: c,
            },
            nb * h * wd,
            co,
            &node.name,
        );
        self.mark_channels_last(node, y)?;
        Ok(Val::Act(y))
    }
}

fn is_increasing(it: impl Iterator<Item = usize>) -> bool {
    let v: Vec<usize> = it.collect();
    v.windows(2).all(|w| w[0] < w[1])
}
