//! Pools, sums over axes and data-moving transposes.
//!
//! On the channels-last layout ([`super::window`]):
//! - **MaxPool**: one proved gather per tap (`Gather::Tap`: a tap on padding reads the
//!   window's first real pixel again, since `max(a, a) = a`), reduced pairwise by
//!   `max(a, b) = b + relu(a - b)`. A `T`-tap window costs `T` gathers, `T - 1` ReLUs.
//! - **AveragePool** (tract's `SumPool`): a window-sum gather, then the division by the window
//!   size (a constant, or one factor per output pixel where padded windows count fewer taps).
//! - **Reduce Sum / Mean** over the spatial axes (GlobalAveragePool): a gather summing every
//!   pixel of each image; over the channels a row sum.
//!
//! On the row layout (leading axes rows, the rest flattened into the row):
//! - **Reduce Sum** over axes inside the row: a summation matmul; the mean's `1/n` follows as
//!   a constant factor.
//! - **Transpose** that moves data: a permutation matmul.

use model::window::{Gather, Window};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{MaxPool, SumPool};
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};

use super::window::{flatten, sparse_matrix, unflatten};
use super::{Lowerer, Val};
use crate::error::ImportError;
use crate::plan::{PlanOp, StepId};

/// Most taps a max-pool window may have (each costs a gather, a ReLU and an addition).
pub const MAX_POOL_TAPS: usize = 64;

impl Lowerer<'_> {
    pub(super) fn max_pool(&mut self, node: &TypedNode, op: &MaxPool) -> Result<Val, ImportError> {
        if op.with_index_outputs.is_some() {
            return Err(self.unsupported(node, " (with an index output)"));
        }
        let (input, _) = self.operand(node, 0)?;
        let x = self.act(input, &node.name)?;
        let iw = self.window(node, &op.pool_spec, input, x)?;
        let (win, c) = (iw.win, iw.c);
        if win.taps() > MAX_POOL_TAPS {
            return Err(self.unsupported(
                node,
                format!(
                    " with a {:?} window (at most {MAX_POOL_TAPS} taps)",
                    win.kernel
                ),
            ));
        }
        let all_padding =
            (0..win.oh * win.ow).any(|o| (0..win.taps()).all(|t| win.source(o, t).is_none()));
        if all_padding {
            return Err(self.unsupported(node, " (a window lies entirely in the padding)"));
        }
        let mut items: Vec<StepId> = (0..win.taps())
            .map(|t| self.push_gather(x, win, Gather::Tap(t), c, &node.name))
            .collect();
        let rows = win.rows_out();
        while items.len() > 1 {
            let mut next = Vec::with_capacity(items.len().div_ceil(2));
            let mut it = items.into_iter();
            while let Some(a) = it.next() {
                next.push(match it.next() {
                    Some(b) => {
                        let diff = self.push(PlanOp::Sub { lhs: a, rhs: b }, rows, c, &node.name);
                        let relu = self.push(PlanOp::Relu { input: diff }, rows, c, &node.name);
                        self.push(PlanOp::Add { lhs: b, rhs: relu }, rows, c, &node.name)
                    }
                    None => a,
                });
            }
            items = next;
        }
        let last = items
            .pop()
            .ok_or_else(|| self.unsupported(node, " (an empty window)"))?;
        self.mark_channels_last(node, last)?;
        Ok(Val::Act(last))
    }

    pub(super) fn sum_pool(&mut self, node: &TypedNode, op: &SumPool) -> Result<Val, ImportError> {
        let (input, _) = self.operand(node, 0)?;
        let x = self.act(input, &node.name)?;
        let iw = self.window(node, &op.pool_spec, input, x)?;
        let (win, c) = (iw.win, iw.c);
        let sum = self.push_gather(x, win, Gather::Sum, c, &node.name);
        self.mark_channels_last(node, sum)?;
        if !op.normalize {
            return Ok(Val::Act(sum));
        }
        let counts: Vec<usize> = (0..win.oh * win.ow)
            .map(|o| {
                if op.count_include_pad {
                    win.taps()
                } else {
                    (0..win.taps())
                        .filter(|&t| win.source(o, t).is_some())
                        .count()
                }
            })
            .collect();
        if counts.iter().all(|&n| n == counts[0]) {
            return Ok(Val::Scaled {
                x: sum,
                c: 1.0 / counts[0].max(1) as f32,
            });
        }
        let rows = win.rows_out();
        let inv: Vec<f32> = (0..rows)
            .flat_map(|r| {
                let f = 1.0 / counts[r % counts.len()].max(1) as f32;
                std::iter::repeat_n(f, c)
            })
            .collect();
        let op = PlanOp::ScaleCols { input: sum, c: inv };
        let y = self.push(op, rows, c, &node.name);
        self.mark_channels_last(node, y)?;
        Ok(Val::Act(y))
    }

    /// Sum or mean over axes of a channels-last activation `[n, c, h, w]`: the spatial axes by
    /// a gather summing each image's pixels, the channels by a row sum.
    fn reduce_channels_last(
        &mut self,
        node: &TypedNode,
        op: &Reduce,
        x: StepId,
        [n, c, h, w]: [usize; 4],
        rank: usize,
    ) -> Result<Val, ImportError> {
        // Axes as positions in [n, c, h, w]: a rank-3 map is [n, c, l], a rank-2 one [c, l].
        let place: &[usize] = match rank {
            2 => &[1, 3],
            3 => &[0, 1, 3],
            _ => &[0, 1, 2, 3],
        };
        let axes: Vec<usize> = op
            .axes
            .iter()
            .filter_map(|&a| place.get(a).copied())
            .collect();
        let (spatial, chans) = (axes.contains(&2) || axes.contains(&3), axes.contains(&1));
        let spatial_all = (h == 1 || axes.contains(&2)) && (w == 1 || axes.contains(&3));
        if op.reducer != Reducer::Sum || axes.contains(&0) || (spatial && !spatial_all) {
            return Err(self.unsupported(
                node,
                format!(
                    " over axes {:?} of a feature map (sums over all pixels or over the \
                     channels only)",
                    op.axes
                ),
            ));
        }
        let mut y = x;
        if spatial {
            let win = Window::whole_image(n, h, w);
            y = self.push_gather(y, win, Gather::Sum, c, &node.name);
        }
        if chans {
            let rows = self.view(y).0;
            let op = PlanOp::IntMatMul {
                input: y,
                weight: vec![1; c],
                k: c,
            };
            y = self.push(op, rows, 1, &node.name);
        }
        Ok(Val::Act(y))
    }

    pub(super) fn reduce(&mut self, node: &TypedNode, op: &Reduce) -> Result<Val, ImportError> {
        let (input, val) = self.operand(node, 0)?;
        let dims = self.dims(input)?;
        let x = match &val {
            Val::Norm { x, .. } if self.norm_reduce(op.reducer, &val, *x).is_some() => *x,
            _ => self.act(input, &node.name)?,
        };
        let (rows, cols) = self.view(x);
        if let Some(nchw) = self.nchw_of(&dims, x) {
            if !matches!(val, Val::Norm { .. }) {
                return self.reduce_channels_last(node, op, x, nchw, dims.len());
            }
        }
        let p = self.row_axes(node, &dims, rows)?;
        if op.axes.iter().any(|&a| a < p && dims[a] > 1) {
            return Err(self.unsupported(node, " across the rows of its input's layout"));
        }
        let out: Vec<usize> = (p..dims.len())
            .map(|a| if op.axes.contains(&a) { 1 } else { dims[a] })
            .collect();
        let n: usize = out.iter().product();
        if n == 1 {
            if let Some(v) = self.norm_reduce(op.reducer, &val, x) {
                return Ok(v);
            }
        }
        if op.reducer != Reducer::Sum {
            return Err(self.unsupported(node, ""));
        }
        self.check_unrolled(node, cols, n)?;
        let local = &dims[p..];
        let weight = sparse_matrix(
            cols,
            n,
            (0..cols).map(|i| {
                let idx: Vec<usize> = unflatten(i, local)
                    .into_iter()
                    .zip(&out)
                    .map(|(v, &d)| if d == 1 { 0 } else { v })
                    .collect();
                (i, flatten(&idx, &out), 1)
            }),
        );
        let op = PlanOp::IntMatMul {
            input: x,
            weight,
            k: cols,
        };
        Ok(Val::Act(self.push(op, rows, n, &node.name)))
    }

    /// Moving axis `from` to `to` of the activation on `input`: a permutation of each row.
    pub(super) fn transpose(
        &mut self,
        node: &TypedNode,
        input: OutletId,
        val: Val,
        from: usize,
        to: usize,
    ) -> Result<Val, ImportError> {
        let dims = self.dims(input)?;
        let x = self.act(input, &node.name)?;
        let (rows, cols) = self.view(x);
        if let Some([_, c, h, w]) = self.nchw_of(&dims, x) {
            // NCHW -> NHWC is the layout itself: the result is `N*H*W` rows of `C`.
            let to_last = from == 1 && to + 1 == dims.len();
            if to_last && !(c == h && h == w) {
                return Ok(val);
            }
            return Err(self.unsupported(
                node,
                format!(" of a feature map {dims:?} (only NCHW -> NHWC, C != H or W)"),
            ));
        }
        let p = self.row_axes(node, &dims, rows)?;
        if from < p || to < p || to >= dims.len() {
            return Err(self.unsupported(node, " (a transpose across the rows of the layout)"));
        }
        self.check_unrolled(node, cols, cols)?;
        let local = &dims[p..];
        let mut out = local.to_vec();
        let moved = out.remove(from - p);
        out.insert(to - p, moved);
        let weight = sparse_matrix(
            cols,
            cols,
            (0..cols).map(|i| {
                let mut idx = unflatten(i, local);
                let v = idx.remove(from - p);
                idx.insert(to - p, v);
                (i, flatten(&idx, &out), 1)
            }),
        );
        let op = PlanOp::IntMatMul {
            input: x,
            weight,
            k: cols,
        };
        Ok(Val::Act(self.push(op, rows, cols, &node.name)))
    }

    /// The number of leading axes of `dims` that make up the `rows` of its layout.
    pub(super) fn row_axes(
        &self,
        node: &TypedNode,
        dims: &[usize],
        rows: usize,
    ) -> Result<usize, ImportError> {
        (0..=dims.len())
            .find(|&p| dims[..p].iter().product::<usize>() == rows)
            .ok_or_else(|| {
                self.unsupported(
                    node,
                    format!(" (its input {dims:?} is laid out in {rows} rows, not at an axis)"),
                )
            })
    }
}
