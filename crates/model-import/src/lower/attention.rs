//! Products of two activations (`EinSum` between two non-constant operands: attention's
//! `Q K^T` and `P V`, batched over heads) as per-batch proved matmuls.
//!
//! A tensor with batch axes is carried as [`Val::Parts`]: one `rows x cols` activation per
//! batch index, in row-major order of the batch axes, each part's rows and columns the next
//! axes and the last ones. An ordinary activation viewed `rows x cols` whose columns lead with
//! the batch axes (a projection `seq x (heads * dh)` reshaped to `seq x heads x dh`) gives its
//! per-batch matrices as aligned column slices, the heads of a decoder. The product of batch
//! `b` is `lhs_b . rhs_b` or `lhs_b . rhs_b^T`; the outputs stay parts when the batch axes lead
//! the output, or are concatenated side by side when they sit between its rows and columns
//! (`seq x heads x dh` back into `seq x (heads * dh)`).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::einsum::EinSum;

use super::{Lowerer, Val};
use crate::error::ImportError;
use crate::plan::{PlanOp, StepId};

/// The role of an equation axis (of size > 1) in a product of two activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// In both operands and the output.
    Batch,
    /// In the first operand and the output.
    M,
    /// In the second operand and the output.
    N,
    /// In both operands, summed over.
    K,
}

/// The per-batch matrices of one operand and which axis groups their rows and columns hold.
struct Mats {
    parts: Vec<StepId>,
    rows: Vec<usize>,
    cols: Vec<usize>,
}

/// How a tensor's axes (of size > 1, as equation axis ids) fall into its layout.
struct Layout {
    parts: Vec<usize>,
    rows: Vec<usize>,
    cols: Vec<usize>,
}

impl Lowerer<'_> {
    /// `EinSum` of two activations.
    pub(super) fn einsum_acts(
        &mut self,
        node: &TypedNode,
        op: &EinSum,
    ) -> Result<Val, ImportError> {
        let out_o = OutletId::new(node.id, 0);
        let (a, va) = self.operand_mat(node, 0)?;
        let (b, vb) = self.operand_mat(node, 1)?;
        let (a_dims, b_dims, out_dims) = (self.dims(a)?, self.dims(b)?, self.dims(out_o)?);
        // Each operand's and the output's axes (ids into `roles`) in position order.
        let (mut a_ax, mut b_ax, mut o_ax) = (vec![], vec![], vec![]);
        let (mut roles, mut sizes) = (vec![], vec![]);
        for axis in op.axes.iter_all_axes() {
            if axis.inputs.iter().chain(&axis.outputs).any(|v| v.len() > 1) {
                return Err(self.unsupported(node, " (a repeated axis)"));
            }
            let (pa, pb, po) = (
                axis.inputs[0].first().copied(),
                axis.inputs[1].first().copied(),
                axis.outputs[0].first().copied(),
            );
            let size = pa
                .map(|p| a_dims[p])
                .or(pb.map(|p| b_dims[p]))
                .or(po.map(|p| out_dims[p]))
                .unwrap_or(1);
            if size == 1 {
                continue;
            }
            let role = match (pa, pb, po) {
                (Some(_), Some(_), Some(_)) => Role::Batch,
                (Some(_), None, Some(_)) => Role::M,
                (None, Some(_), Some(_)) => Role::N,
                (Some(_), Some(_), None) => Role::K,
                _ => {
                    return Err(self.unsupported(
                        node,
                        format!(" (axis {} is summed in one operand only)", axis.repr),
                    ))
                }
            };
            let id = roles.len();
            roles.push(role);
            sizes.push(size);
            for (list, pos) in [(&mut a_ax, pa), (&mut b_ax, pb), (&mut o_ax, po)] {
                if let Some(p) = pos {
                    list.push((p, id));
                }
            }
        }
        let order = |mut v: Vec<(usize, usize)>| {
            v.sort_unstable();
            v.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
        };
        let (a_ax, b_ax, o_ax) = (order(a_ax), order(b_ax), order(o_ax));
        let of = |ax: &[usize], r: Role| -> Vec<usize> {
            ax.iter().copied().filter(|&i| roles[i] == r).collect()
        };
        let batch = of(&o_ax, Role::Batch);
        if of(&a_ax, Role::Batch) != batch || of(&b_ax, Role::Batch) != batch {
            return Err(self.unsupported(node, " (its operands order the batch axes differently)"));
        }
        let la = self.layout(node, a, &va, &a_ax, &sizes)?;
        let lb = self.layout(node, b, &vb, &b_ax, &sizes)?;
        let k = of(&a_ax, Role::K);
        if of(&b_ax, Role::K) != k {
            return Err(self.unsupported(node, " (its operands order the summed axes differently)"));
        }
        let (m, n) = (of(&o_ax, Role::M), of(&o_ax, Role::N));
        let ma = self.mats(node, a, &va, &la, &batch, &sizes)?;
        let mb = self.mats(node, b, &vb, &lb, &batch, &sizes)?;
        // lhs . rhs with lhs (rows x k): the output matrices are (lhs rows) x (rhs free axes).
        let (lhs, rhs) = if ma.rows == m && ma.cols == k {
            (ma, mb)
        } else if mb.rows == n && mb.cols == k {
            (mb, ma)
        } else {
            return Err(self.unsupported(
                node,
                " (neither operand is laid out as its free axes by the summed ones)",
            ));
        };
        let transpose = if rhs.rows == k {
            false
        } else if rhs.cols == k {
            true
        } else {
            return Err(self.unsupported(node, " (the summed axes split across a layout)"));
        };
        let out_rows: usize = lhs.rows.iter().map(|&i| sizes[i]).product();
        let rhs_free = if transpose { &rhs.rows } else { &rhs.cols };
        let out_cols: usize = rhs_free.iter().map(|&i| sizes[i]).product();
        let products: Vec<StepId> = lhs
            .parts
            .iter()
            .zip(&rhs.parts)
            .map(|(&l, &r)| {
                let op = PlanOp::MatMulAct {
                    lhs: l,
                    rhs: r,
                    transpose_rhs: transpose,
                };
                self.push(op, out_rows, out_cols, &node.name)
            })
            .collect();
        // The output's layout: batch axes first (parts), or between rows and columns.
        let leading: Vec<usize> = batch
            .iter()
            .chain(&lhs.rows)
            .chain(rhs_free)
            .copied()
            .collect();
        let between: Vec<usize> = lhs
            .rows
            .iter()
            .chain(&batch)
            .chain(rhs_free)
            .copied()
            .collect();
        if products.len() == 1 && (o_ax == leading || o_ax == between) {
            return Ok(Val::Act(products[0]));
        }
        if o_ax == leading {
            return Ok(Val::Parts(products));
        }
        if o_ax == between && out_cols >= 2 && out_cols.is_power_of_two() {
            let op = PlanOp::ConcatColumns { parts: products };
            let cols = out_cols * batch.iter().map(|&i| sizes[i]).product::<usize>();
            return Ok(Val::Act(self.push(op, out_rows, cols, &node.name)));
        }
        Err(self.unsupported(
            node,
            format!(
                " (its output {out_dims:?} is neither batch-major nor batch-between with \
                 power-of-two columns, {out_cols})"
            ),
        ))
    }

    /// Operand `i` as per-batch parts or one activation (lazy forms materialised).
    fn operand_mat(&mut self, node: &TypedNode, i: usize) -> Result<(OutletId, Val), ImportError> {
        let (o, v) = self.operand(node, i)?;
        match v {
            Val::Parts(_) => Ok((o, v)),
            _ => Ok((o, Val::Act(self.act(o, &node.name)?))),
        }
    }

    /// How the operand on `o` lays out its axes `ax` (position order, size > 1).
    fn layout(
        &self,
        node: &TypedNode,
        o: OutletId,
        val: &Val,
        ax: &[usize],
        sizes: &[usize],
    ) -> Result<Layout, ImportError> {
        let (n_parts, rows) = match val {
            Val::Parts(p) => (p.len(), self.view(p[0]).0),
            Val::Act(s) => (1, self.view(*s).0),
            _ => return Err(self.structure(format!("operand {o:?} of '{}' is lazy", node.name))),
        };
        let split = |target: usize, from: usize| {
            let mut p = 1;
            let mut i = from;
            while p < target && i < ax.len() {
                p *= sizes[ax[i]];
                i += 1;
            }
            (p == target).then_some(i)
        };
        let bad = || {
            self.unsupported(
                node,
                format!(
                    " (operand {o:?} of shape {:?} is not laid out at axis boundaries)",
                    self.dims(o).unwrap_or_default()
                ),
            )
        };
        let p = split(n_parts, 0).ok_or_else(bad)?;
        let r = split(rows, p).ok_or_else(bad)?;
        Ok(Layout {
            parts: ax[..p].to_vec(),
            rows: ax[p..r].to_vec(),
            cols: ax[r..].to_vec(),
        })
    }

    /// The operand's matrix for each batch index (row-major over `batch`).
    fn mats(
        &mut self,
        node: &TypedNode,
        o: OutletId,
        val: &Val,
        layout: &Layout,
        batch: &[usize],
        sizes: &[usize],
    ) -> Result<Mats, ImportError> {
        match val {
            Val::Parts(parts) if layout.parts == batch => Ok(Mats {
                parts: parts.clone(),
                rows: layout.rows.clone(),
                cols: layout.cols.clone(),
            }),
            Val::Act(s) if batch.is_empty() => Ok(Mats {
                parts: vec![*s],
                rows: layout.rows.clone(),
                cols: layout.cols.clone(),
            }),
            Val::Act(s) if layout.cols.starts_with(batch) => {
                // Batch axes lead the columns: each batch index is an aligned column slice.
                let inner = layout.cols[batch.len()..].to_vec();
                let width: usize = inner.iter().map(|&i| sizes[i]).product();
                if width < 2 || !width.is_power_of_two() {
                    return Err(self.unsupported(
                        node,
                        format!(
                            " (a per-head slice of {o:?} is {width} columns wide, not a power \
                             of two)"
                        ),
                    ));
                }
                let n: usize = batch.iter().map(|&i| sizes[i]).product();
                let rows = self.view(*s).0;
                let parts = (0..n)
                    .map(|b| {
                        let op = PlanOp::ColumnSlice {
                            input: *s,
                            start: b * width,
                            len: width,
                        };
                        self.push(op, rows, width, &node.name)
                    })
                    .collect();
                Ok(Mats {
                    parts,
                    rows: layout.rows.clone(),
                    cols: inner,
                })
            }
            _ => Err(self.unsupported(
                node,
                format!(" (operand {o:?} does not lay out its batch axes first or as columns)"),
            )),
        }
    }

    /// `parts op c` for a constant `c`: a scalar, or a row over each part's columns (an
    /// additive attention mask).
    pub(super) fn parts_with_const(
        &mut self,
        node: &TypedNode,
        op: &str,
        parts: &[StepId],
        c_shape: &[usize],
        data: &[f32],
    ) -> Result<Val, ImportError> {
        let (rows, cols) = self.view(parts[0]);
        let row = c_shape.iter().filter(|&&d| d > 1).count() <= 1
            && c_shape.last() == Some(&cols)
            && data.len() == cols;
        let per_part = |x: StepId| -> Option<PlanOp> {
            Some(match (op, data) {
                ("Mul", [k]) => PlanOp::Scale { input: x, c: *k },
                ("Div", [k]) if *k != 0.0 => PlanOp::Scale {
                    input: x,
                    c: 1.0 / *k,
                },
                ("Add", [k]) => PlanOp::AddScalar { input: x, c: *k },
                ("Sub", [k]) => PlanOp::AddScalar { input: x, c: -*k },
                ("Add", _) if row => PlanOp::Bias {
                    input: x,
                    bias: data.to_vec(),
                },
                ("Sub", _) if row => PlanOp::Bias {
                    input: x,
                    bias: data.iter().map(|v| -v).collect(),
                },
                ("Mul", _) if row => PlanOp::ScaleCols {
                    input: x,
                    c: data.to_vec(),
                },
                _ => return None,
            })
        };
        let mut out = Vec::with_capacity(parts.len());
        for &x in parts {
            let Some(op) = per_part(x) else {
                return Err(self.unsupported(
                    node,
                    format!(
                        " of per-batch matrices with a constant of shape {c_shape:?} (only a \
                         scalar or a row over the last axis)"
                    ),
                ));
            };
            out.push(self.push(op, rows, cols, &node.name));
        }
        Ok(Val::Parts(out))
    }

    /// An element-wise op between two tensors carried as parts of one layout.
    pub(super) fn parts_binary(
        &mut self,
        node: &TypedNode,
        op: &str,
        a: &[StepId],
        b: &[StepId],
    ) -> Result<Val, ImportError> {
        let same =
            a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| self.view(x) == self.view(y));
        if !same {
            return Err(self.unsupported(node, " between differently laid out per-batch matrices"));
        }
        let mut out = Vec::with_capacity(a.len());
        for (&l, &r) in a.iter().zip(b) {
            let op = match op {
                "Add" => PlanOp::Add { lhs: l, rhs: r },
                "Mul" => PlanOp::Mul { lhs: l, rhs: r },
                "Sub" => PlanOp::Sub { lhs: l, rhs: r },
                _ => return Err(self.unsupported(node, " between per-batch matrices")),
            };
            let (rows, cols) = self.view(l);
            out.push(self.push(op, rows, cols, &node.name));
        }
        Ok(Val::Parts(out))
    }

    /// Scores (per-batch parts or one activation) plus the additive mask `(1 - keep) * c`:
    /// [`PlanOp::KeyMask`] on each part, `keep` a `1 x n` row over the keys.
    pub(super) fn key_mask(
        &mut self,
        node: &TypedNode,
        scores: OutletId,
        val: Val,
        keep: StepId,
    ) -> Result<Val, ImportError> {
        let batched = matches!(val, Val::Parts(_));
        let parts = match val {
            Val::Parts(p) => p,
            _ => vec![self.act(scores, &node.name)?],
        };
        let (kr, kc) = self.view(keep);
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            let (rows, cols) = self.view(p);
            if kr != 1 || kc != cols {
                return Err(self.unsupported(
                    node,
                    format!(
                        " of an attention mask laid out {kr}x{kc} to scores {rows}x{cols} (one \
                         mask row over the keys)"
                    ),
                ));
            }
            out.push(self.push(PlanOp::KeyMask { input: p, keep }, rows, cols, &node.name));
        }
        Ok(match (batched, out.as_slice()) {
            (false, [one]) => Val::Act(*one),
            _ => Val::Parts(out),
        })
    }
}
