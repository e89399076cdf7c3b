//! Data movement as constant selection matmuls on the flattened row: Concat of activations,
//! Slice and Gather with constant indices, along any axis after the ones that make up the rows
//! of the layout. Each becomes `x . S` with `S` a 0/1 matrix (`PlanOp::IntMatMul`: exact, no
//! rescale), a concatenation the sum of one such product per part.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{Gather, Slice, TypedConcat};
use tract_onnx::tract_hir::internal::DimLike;

use super::window::{flatten, sparse_matrix, unflatten};
use super::{Lowerer, Val};
use crate::error::ImportError;
use crate::plan::PlanOp;

impl Lowerer<'_> {
    /// `(input step, rows, local dims, first local axis)` of operand `i`, whose layout puts
    /// the axes before `axis` or some of them in rows.
    fn local(
        &mut self,
        node: &TypedNode,
        i: usize,
        axis: usize,
    ) -> Result<(crate::plan::StepId, usize, Vec<usize>, usize), ImportError> {
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
        Ok((x, rows, dims[p..].to_vec(), p))
    }

    pub(super) fn concat(
        &mut self,
        node: &TypedNode,
        op: &TypedConcat,
    ) -> Result<Val, ImportError> {
        let mut parts = Vec::with_capacity(node.inputs.len());
        for i in 0..node.inputs.len() {
            if let Val::Const(_) = self.operand(node, i)?.1 {
                return Err(self.unsupported(node, " with a constant operand"));
            }
            parts.push(self.local(node, i, op.axis)?);
        }
        let (_, rows, first, p) = parts[0].clone();
        let a = op.axis - p;
        let mut out = first.clone();
        out[a] = parts.iter().map(|(_, _, d, _)| d[a]).sum();
        let n: usize = out.iter().product();
        let mut acc: Option<crate::plan::StepId> = None;
        let mut offset = 0;
        for (x, r, dims, q) in parts {
            let same_rest =
                dims.len() == out.len() && (0..dims.len()).all(|j| j == a || dims[j] == out[j]);
            if r != rows || q != p || !same_rest {
                return Err(self.unsupported(node, " of parts laid out differently"));
            }
            let k: usize = dims.iter().product();
            self.check_unrolled(node, k, n)?;
            let weight = sparse_matrix(
                k,
                n,
                (0..k).map(|i| {
                    let mut idx = unflatten(i, &dims);
                    idx[a] += offset;
                    (i, flatten(&idx, &out), 1)
                }),
            );
            offset += dims[a];
            let placed = self.push(
                PlanOp::IntMatMul {
                    input: x,
                    weight,
                    k,
                },
                rows,
                n,
                &node.name,
            );
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
        acc.map(Val::Act)
            .ok_or_else(|| self.unsupported(node, " without operands"))
    }

    /// `positions[j]` of the axis for output index `j`: a selection along `axis`.
    fn select(
        &mut self,
        node: &TypedNode,
        axis: usize,
        positions: &[usize],
    ) -> Result<Val, ImportError> {
        let (x, rows, dims, p) = self.local(node, 0, axis)?;
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
        Ok(Val::Act(self.push(
            PlanOp::IntMatMul {
                input: x,
                weight,
                k,
            },
            rows,
            n,
            &node.name,
        )))
    }

    pub(super) fn slice(&mut self, node: &TypedNode, op: &Slice) -> Result<Val, ImportError> {
        let (start, end) = match (op.start.to_usize(), op.end.to_usize()) {
            (Ok(s), Ok(e)) if s < e => (s, e),
            _ => return Err(self.unsupported(node, " with symbolic or empty bounds")),
        };
        let positions: Vec<usize> = (start..end).collect();
        self.select(node, op.axis, &positions)
    }

    pub(super) fn gather(&mut self, node: &TypedNode, op: &Gather) -> Result<Val, ImportError> {
        let Val::Const(indices) = self.operand(node, 1)?.1 else {
            return Err(self.unsupported(node, " with computed indices"));
        };
        if indices.rank() > 1 {
            return Err(self.unsupported(node, " with indices of rank above 1"));
        }
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
        // A scalar index drops the axis: the same values in the same flattened order.
        self.select(node, op.axis, &positions)
    }
}
