//! Pools, sums over axes and data-moving transposes as constant integer matmuls on the
//! flattened row (see [`super::window`]), all exact at the activation's scale.
//!
//! - **MaxPool**: one selection matrix per tap (a tap on padding selects the window's first
//!   real pixel again, since `max(a, a) = a`), reduced pairwise by
//!   `max(a, b) = b + relu(a - b)`; for two selections `a - b` is one matmul with a `+1/-1`
//!   matrix. A `T`-tap window costs `T` matmuls, `T - 1` ReLUs and additions.
//! - **AveragePool** (tract's `SumPool`): a window-sum matmul, then the division by the window
//!   size (a constant factor, per output column where padded windows count fewer taps).
//! - **Reduce Sum** (GlobalAveragePool, ReduceMean / ReduceSum) over axes inside the row: a
//!   summation matmul; the mean's `1/n` follows as a constant factor.
//! - **Transpose** that moves data: a permutation matmul.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{MaxPool, SumPool};
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};

use super::window::{flatten, sparse_matrix, unflatten, Window};
use super::{Lowerer, Val};
use crate::error::ImportError;
use crate::plan::{PlanOp, StepId};

/// Most taps a max-pool window may have (each costs a matmul, a ReLU and an addition).
pub const MAX_POOL_TAPS: usize = 16;

/// An operand of the max-pool tree: a selection of the input (column `j` reads input index
/// `sel[j]`), or a computed step.
enum Item {
    Sel(Vec<usize>),
    Act(StepId),
}

/// What the steps of one pool share.
struct Pool {
    x: StepId,
    rows: usize,
    k: usize,
    n: usize,
    name: String,
}

impl Lowerer<'_> {
    pub(super) fn max_pool(&mut self, node: &TypedNode, op: &MaxPool) -> Result<Val, ImportError> {
        if op.with_index_outputs.is_some() {
            return Err(self.unsupported(node, " (with an index output)"));
        }
        let (input, _) = self.operand(node, 0)?;
        let x = self.act(input, &node.name)?;
        let win = self.window(node, &op.pool_spec, input, self.view(x))?;
        if win.n_taps() > MAX_POOL_TAPS {
            return Err(self.unsupported(
                node,
                format!(
                    " with a {:?} window (at most {MAX_POOL_TAPS} taps)",
                    win.kernel
                ),
            ));
        }
        let pool = self.pool(node, x, &win)?;
        let mut items = Vec::with_capacity(win.n_taps());
        for t in 0..win.n_taps() {
            let sel = (0..pool.n)
                .map(|j| {
                    let (c, o) = (j / win.out_pixels(), j % win.out_pixels());
                    let first = (0..win.n_taps()).find_map(|t| win.tap(o, t));
                    let i = win.tap(o, t).or(first).ok_or_else(|| {
                        self.unsupported(node, " (a window lies entirely in the padding)")
                    })?;
                    Ok(c * win.in_pixels() + i)
                })
                .collect::<Result<Vec<_>, ImportError>>()?;
            items.push(Item::Sel(sel));
        }
        while items.len() > 1 {
            let mut next = Vec::with_capacity(items.len().div_ceil(2));
            let mut it = items.into_iter();
            while let Some(a) = it.next() {
                next.push(match it.next() {
                    Some(b) => Item::Act(self.max2(&pool, &a, &b)),
                    None => a,
                });
            }
            items = next;
        }
        let last = items
            .pop()
            .ok_or_else(|| self.unsupported(node, " (an empty window)"))?;
        Ok(Val::Act(self.item(&pool, &last)))
    }

    pub(super) fn sum_pool(&mut self, node: &TypedNode, op: &SumPool) -> Result<Val, ImportError> {
        let (input, _) = self.operand(node, 0)?;
        let x = self.act(input, &node.name)?;
        let win = self.window(node, &op.pool_spec, input, self.view(x))?;
        let pool = self.pool(node, x, &win)?;
        let win = &win;
        let taps = move |j: usize| {
            let (c, o) = (j / win.out_pixels(), j % win.out_pixels());
            (0..win.n_taps()).filter_map(move |t| Some(c * win.in_pixels() + win.tap(o, t)?))
        };
        let weight = sparse_matrix(
            pool.k,
            pool.n,
            (0..pool.n).flat_map(|j| taps(j).map(move |i| (i, j, 1))),
        );
        let sum = self.push_matmul(&pool, weight);
        if !op.normalize {
            return Ok(Val::Act(sum));
        }
        let inv: Vec<f32> = (0..pool.n)
            .map(|j| {
                let count = if op.count_include_pad {
                    win.n_taps()
                } else {
                    taps(j).count()
                };
                1.0 / count.max(1) as f32
            })
            .collect();
        if inv.iter().all(|&c| c == inv[0]) {
            return Ok(Val::Scaled { x: sum, c: inv[0] });
        }
        let op = PlanOp::ScaleCols { input: sum, c: inv };
        Ok(Val::Act(self.push(op, pool.rows, pool.n, &pool.name)))
    }

    pub(super) fn reduce(&mut self, node: &TypedNode, op: &Reduce) -> Result<Val, ImportError> {
        let (input, val) = self.operand(node, 0)?;
        let dims = self.dims(input)?;
        let x = match &val {
            Val::Norm { x, .. } if self.norm_reduce(op.reducer, &val, *x).is_some() => *x,
            _ => self.act(input, &node.name)?,
        };
        let (rows, cols) = self.view(x);
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
        from: usize,
        to: usize,
    ) -> Result<Val, ImportError> {
        let dims = self.dims(input)?;
        let x = self.act(input, &node.name)?;
        let (rows, cols) = self.view(x);
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

    fn pool(&self, node: &TypedNode, x: StepId, win: &Window) -> Result<Pool, ImportError> {
        let (k, n) = (win.c * win.in_pixels(), win.c * win.out_pixels());
        self.check_unrolled(node, k, n)?;
        Ok(Pool {
            x,
            rows: self.view(x).0,
            k,
            n,
            name: node.name.clone(),
        })
    }

    fn push_matmul(&mut self, pool: &Pool, weight: Vec<i64>) -> StepId {
        let op = PlanOp::IntMatMul {
            input: pool.x,
            weight,
            k: pool.k,
        };
        self.push(op, pool.rows, pool.n, &pool.name)
    }

    fn item(&mut self, pool: &Pool, item: &Item) -> StepId {
        match item {
            Item::Act(s) => *s,
            Item::Sel(sel) => {
                let m = sparse_matrix(
                    pool.k,
                    pool.n,
                    sel.iter().enumerate().map(|(j, &i)| (i, j, 1)),
                );
                self.push_matmul(pool, m)
            }
        }
    }

    /// `max(a, b) = b + relu(a - b)`.
    fn max2(&mut self, pool: &Pool, a: &Item, b: &Item) -> StepId {
        let diff = match (a, b) {
            (Item::Sel(sa), Item::Sel(sb)) => {
                let entries = sa.iter().enumerate().map(|(j, &i)| (i, j, 1));
                let minus = sb.iter().enumerate().map(|(j, &i)| (i, j, -1));
                Some(self.push_matmul(pool, sparse_matrix(pool.k, pool.n, entries.chain(minus))))
            }
            _ => None,
        };
        let b = self.item(pool, b);
        let diff = match diff {
            Some(d) => d,
            None => {
                let a = self.item(pool, a);
                self.push(
                    PlanOp::Sub { lhs: a, rhs: b },
                    pool.rows,
                    pool.n,
                    &pool.name,
                )
            }
        };
        let relu = self.push(PlanOp::Relu { input: diff }, pool.rows, pool.n, &pool.name);
        self.push(
            PlanOp::Add { lhs: b, rhs: relu },
            pool.rows,
            pool.n,
            &pool.name,
        )
    }
}
