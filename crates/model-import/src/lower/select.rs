//! Data movement on the flattened row: Concat of activations, Slice, strided Slice (tract's
//! `Downsample`) and Gather with constant indices, along any axis after the ones that make up
//! the rows of the layout.
//!
//! Where the moved block is contiguous in the row and power-of-two aligned, a slice is a
//! proved column slice and a concatenation of equal power-of-two widths a proved column
//! concatenation (no committed matrix). Everything else is `x . S` with `S` a 0/1 matrix
//! (`PlanOp::IntMatMul`: exact, no rescale), a concatenation the sum of one such product per
//! part; a constant part whose rows agree joins as a bias.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{Gather, Slice, TypedConcat};
use tract_onnx::tract_core::ops::downsample::Downsample;
use tract_onnx::tract_hir::internal::DimLike;

use super::window::{flatten, sparse_matrix, unflatten};
use super::{Lowerer, Val};
use crate::error::ImportError;
use crate::plan::{PlanOp, StepId};

/// An activation operand in the layout: its step, rows, the dims after the row axes, and the
/// number of row axes.
#[derive(Clone)]
struct Local {
    x: StepId,
    rows: usize,
    dims: Vec<usize>,
    p: usize,
}

impl Lowerer<'_> {
    /// Operand `i` in the layout; `axis` must lie after its row axes.
    fn local(&mut self, node: &TypedNode, i: usize, axis: usize) -> Result<Local, ImportError> {
        let (input, _) = self.operand(node, i)?;
        let dims = self.dims(input)?;
        let x = self.act(input, &node.name)?;
        let (rows, _) = self.view(x);
        let p = self.row_axes(node, &dims, rows)?;
        if axis < p || axis >= dims.len() {
            return Err(self.unsupported(
                node,
                format!(" along axis {axis} of {dims:?} (the rows of the layout)"),
            ));
        }
        Ok(Local {
            x,
            rows,
            dims: dims[p..].to_vec(),
            p,
        })
    }

    pub(super) fn concat(
        &mut self,
        node: &TypedNode,
        op: &TypedConcat,
    ) -> Result<Val, ImportError> {
        // (part, offset along the axis)
        let mut acts: Vec<(Local, usize)> = vec![];
        let mut consts: Vec<(Arc<Tensor>, usize)> = vec![];
        let mut offset = 0;
        for i in 0..node.inputs.len() {
            let (o, v) = self.operand(node, i)?;
            let len = self.dims(o)?.get(op.axis).copied().unwrap_or(0);
            match v {
                Val::Const(c) => consts.push((c, offset)),
                _ => acts.push((self.local(node, i, op.axis)?, offset)),
            }
            offset += len;
        }
        let Some((first, _)) = acts.first().cloned() else {
            return Err(self.unsupported(node, " without an activation operand"));
        };
        let (rows, p) = (first.rows, first.p);
        if acts.iter().any(|(l, _)| l.rows != rows || l.p != p) {
            return Err(self.unsupported(node, " of parts laid out differently"));
        }
        let out = self.dims(OutletId::new(node.id, 0))?[p..].to_vec();
        let a = op.axis - p;
        let n: usize = out.iter().product();
        let w: usize = first.dims.iter().product();
        let contiguous = out[..a].iter().product::<usize>() == 1;
        if consts.is_empty()
            && contiguous
            && w >= 2
            && w.is_power_of_two()
            && acts
                .iter()
                .all(|(l, _)| l.dims.iter().product::<usize>() == w)
        {
            let parts = acts.iter().map(|(l, _)| l.x).collect();
            return Ok(Val::Act(self.push(
                PlanOp::ConcatColumns { parts },
                rows,
                n,
                &node.name,
            )));
        }
        let mut acc: Option<StepId> = None;
        for (l, offset) in acts {
            let k: usize = l.dims.iter().product();
            self.check_unrolled(node, k, n)?;
            let weight = sparse_matrix(
                k,
                n,
                (0..k).map(|i| {
                    let mut idx = unflatten(i, &l.dims);
                    idx[a] += offset;
                    (i, flatten(&idx, &out), 1)
                }),
            );
            let op = PlanOp::IntMatMul {
                input: l.x,
                weight,
                k,
            };
            let placed = self.push(op, rows, n, &node.name);
            acc = Some(match acc {
                None => placed,
                Some(prev) => self.push(
                    PlanOp::Add {
                        lhs: prev,
                        rhs: placed,
                    },
                    rows,
                    n,
                    &node.name,
                ),
            });
        }
        let acc = acc.ok_or_else(|| self.unsupported(node, " without operands"))?;
        if consts.is_empty() {
            return Ok(Val::Act(acc));
        }
        let mut bias = vec![0f32; n];
        for (c, offset) in consts {
            let local = c.shape().get(p..).unwrap_or(&[]).to_vec();
            let k: usize = local.iter().product();
            let data = c
                .as_slice::<f32>()
                .map_err(|e| self.unsupported(node, format!(": {e:#}")))?;
            if k == 0 || local.len() != out.len() || data.chunks(k).any(|r| r != &data[..k]) {
                return Err(self.unsupported(
                    node,
                    format!(
                        " with a constant operand of shape {:?} that differs between rows",
                        c.shape()
                    ),
                ));
            }
            for (i, &v) in data[..k].iter().enumerate() {
                let mut idx = unflatten(i, &local);
                idx[a] += offset;
                bias[flatten(&idx, &out)] = v;
            }
        }
        let op = PlanOp::Bias { input: acc, bias };
        Ok(Val::Act(self.push(op, rows, n, &node.name)))
    }

    /// `positions[j]` of the axis for output index `j`: a selection along `axis`; a column
    /// slice where the positions are a contiguous, aligned block of the row.
    fn select(
        &mut self,
        node: &TypedNode,
        axis: usize,
        positions: &[usize],
    ) -> Result<Val, ImportError> {
        let Local { x, rows, dims, p } = self.local(node, 0, axis)?;
        let a = axis - p;
        if let Some(&bad) = positions.iter().find(|&&i| i >= dims[a]) {
            return Err(self.unsupported(
                node,
                format!(" (index {bad} outside an axis of {})", dims[a]),
            ));
        }
        let mut out = dims.clone();
        out[a] = positions.len();
        let (k, n) = (
            dims.iter().product::<usize>(),
            out.iter().product::<usize>(),
        );
        let inner: usize = dims[a + 1..].iter().product();
        let start = positions.first().map_or(0, |&s| s * inner);
        let contiguous = dims[..a].iter().product::<usize>() == 1
            && positions.windows(2).all(|w| w[1] == w[0] + 1);
        if contiguous && n >= 2 && n.is_power_of_two() && start.is_multiple_of(n) {
            let op = PlanOp::ColumnSlice {
                input: x,
                start,
                len: n,
            };
            return Ok(Val::Act(self.push(op, rows, n, &node.name)));
        }
        self.check_unrolled(node, k, n)?;
        let weight = sparse_matrix(
            k,
            n,
            (0..n).map(|j| {
                let mut idx = unflatten(j, &out);
                idx[a] = positions[idx[a]];
                (flatten(&idx, &dims), j, 1)
            }),
        );
        let op = PlanOp::IntMatMul {
            input: x,
            weight,
            k,
        };
        Ok(Val::Act(self.push(op, rows, n, &node.name)))
    }

    pub(super) fn slice(&mut self, node: &TypedNode, op: &Slice) -> Result<Val, ImportError> {
        let (start, end) = match (op.start.to_usize(), op.end.to_usize()) {
            (Ok(s), Ok(e)) if s < e => (s, e),
            _ => return Err(self.unsupported(node, " with symbolic or empty bounds")),
        };
        let positions: Vec<usize> = (start..end).collect();
        self.select(node, op.axis, &positions)
    }

    /// A Slice with a step other than 1: every `|stride|`-th position from `modulo` on,
    /// backwards from the last for a negative stride (ndarray's order).
    pub(super) fn downsample(
        &mut self,
        node: &TypedNode,
        op: &Downsample,
    ) -> Result<Val, ImportError> {
        let (input, _) = self.operand(node, 0)?;
        let len = self.dims(input)?.get(op.axis).copied().unwrap_or(0);
        let step = op.stride.unsigned_abs();
        if step == 0 || op.modulo >= len {
            return Err(self.unsupported(node, format!(" ({op:?} of an axis of {len})")));
        }
        let positions: Vec<usize> = if op.stride > 0 {
            (op.modulo..len).step_by(step).collect()
        } else {
            (op.modulo..len).rev().step_by(step).collect()
        };
        self.select(node, op.axis, &positions)
    }

    pub(super) fn gather(&mut self, node: &TypedNode, op: &Gather) -> Result<Val, ImportError> {
        let (table, indices) = (self.operand(node, 0)?.1, self.operand(node, 1)?.1);
        if let (Val::Const(t), Val::Act(ids)) = (&table, &indices) {
            if let Some(v) = self.embedding(node, op, t, *ids)? {
                return Ok(v);
            }
        }
        let Val::Const(indices) = indices else {
            let what = if matches!(table, Val::Const(_)) {
                " on a constant table with computed indices (an embedding lookup): only \
                 constant indices into an activation are supported"
            } else {
                " with computed indices"
            };
            return Err(self.unsupported(node, what));
        };
        let (input, _) = self.operand(node, 0)?;
        let len = self.dims(input)?.get(op.axis).copied().unwrap_or(0) as i64;
        let idx = indices
            .cast_to::<i64>()
            .map_err(|e| self.unsupported(node, format!(": {e:#}")))?;
        let positions = idx
            .as_slice::<i64>()
            .map_err(|e| self.unsupported(node, format!(": {e:#}")))?
            .iter()
            .map(|&i| {
                let i = if i < 0 { i + len } else { i };
                usize::try_from(i).unwrap_or(usize::MAX)
            })
            .collect::<Vec<_>>();
        // The indices' shape replaces the axis (a scalar drops it): in row-major order the
        // same values as a selection by the flattened indices.
        self.select(node, op.axis, &positions)
    }

    /// Gather of rows of a constant table by the integer ids of an input (a column): an
    /// embedding lookup. `None` when the ids are not such an input.
    fn embedding(
        &mut self,
        node: &TypedNode,
        op: &Gather,
        table: &Tensor,
        ids: StepId,
    ) -> Result<Option<Val>, ImportError> {
        let is_ids = matches!(self.steps[ids].op, PlanOp::Input { index } if self.src.inputs[index].ints)
            && self.view(ids).1 == 1;
        if !is_ids {
            return Ok(None);
        }
        if op.axis != 0 || table.rank() != 2 {
            return Err(self.unsupported(
                node,
                format!(
                    " of a {:?} table along axis {} (an embedding is rows of a 2-D table)",
                    table.shape(),
                    op.axis
                ),
            ));
        }
        let data = table
            .as_slice::<f32>()
            .map_err(|e| self.unsupported(node, format!(": {e:#}")))?;
        let cols = table.shape()[1];
        let rows = self.view(ids).0;
        let step = self.push(
            PlanOp::Embedding {
                ids,
                table: data.to_vec(),
            },
            rows,
            cols,
            &node.name,
        );
        Ok(Some(Val::Act(step)))
    }
}
