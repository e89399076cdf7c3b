//! The geometry shared by convolutions and pools, and the size limit on the constant matrices
//! that other data movement unrolls into.
//!
//! An activation of shape `N x C x H x W` is laid out channels-last: `N*H*W` rows (one per
//! pixel) of `C` columns. A spatial operator is then a proved window gather of rows
//! ([`model::window`], no committed matrix) and a channel mix is a matmul by a `C x C'`
//! weight, so a convolution commits its kernel once.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::PoolSpec;
use tract_onnx::tract_core::ops::nn::DataFormat;

use model::window::{Gather, Window};

use super::Lowerer;
use crate::error::ImportError;
use crate::plan::{PlanOp, StepId};

/// `N, C, H, W` of a rank-4 shape, of a rank-3 `N, C, L` as height 1, or of a rank-2 `C, L`
/// (a 1-D map whose batch of 1 tract dropped). Other ranks: the caller checks.
pub(super) fn as_nchw(dims: &[usize]) -> [usize; 4] {
    match *dims {
        [n, c, h, w] => [n, c, h, w],
        [n, c, l] => [n, c, 1, l],
        [c, l] => [1, c, 1, l],
        _ => [0; 4],
    }
}

/// Padded width of `c` columns: a tap block of an im2col gather.
pub(super) fn padded_cols(c: usize) -> usize {
    c.next_power_of_two().max(2)
}

/// Largest number of entries of a matrix a spatial operator is unrolled into (`2^24`, 64 MiB
/// of f32 at import, a few seconds of proving per million entries).
pub const MAX_UNROLLED: usize = 1 << 24;

/// A 2-D window over a channels-last activation of `c` channels ([`model::window`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct ImageWindow {
    pub win: Window,
    pub c: usize,
}

impl Lowerer<'_> {
    /// The `N, C, H, W` of step `x` read as a tensor of shape `dims`, where it is a
    /// channels-last feature map of that shape (one row per pixel, one column per channel), or
    /// `None`. A rank-3 `N x C x L` is a 1-D map (height 1).
    pub(super) fn nchw_of(&self, dims: &[usize], x: StepId) -> Option<[usize; 4]> {
        let nchw = *self.channels_last.get(&x)?;
        ((2..=4).contains(&dims.len()) && as_nchw(dims) == nchw).then_some(nchw)
    }

    /// Registers step `x`, the output of `node`, as a channels-last feature map of the node's
    /// output shape (a map of one pixel per image is also an ordinary `N x C` activation).
    pub(super) fn mark_channels_last(
        &mut self,
        node: &TypedNode,
        x: StepId,
    ) -> Result<(), ImportError> {
        let dims = self.dims(OutletId::new(node.id, 0))?;
        if (2..=4).contains(&dims.len()) {
            let [n, c, h, w] = as_nchw(&dims);
            if h * w > 1 && self.view(x) == (n * h * w, c) {
                self.channels_last.insert(x, [n, c, h, w]);
            }
        }
        Ok(())
    }

    /// The window of a 2-D NCHW convolution or pool reading `input`, whose activation must be
    /// laid out channels-last.
    pub(super) fn window(
        &self,
        node: &TypedNode,
        spec: &PoolSpec,
        input: OutletId,
        x: StepId,
    ) -> Result<ImageWindow, ImportError> {
        let dims = self.dims(input)?;
        if spec.data_format != DataFormat::NCHW || !(3..=4).contains(&dims.len()) {
            return Err(self.unsupported(
                node,
                format!(
                    " on a {:?} input of shape {dims:?} (only 1-D NCL and 2-D NCHW)",
                    spec.data_format
                ),
            ));
        }
        // A 1-D map `N x C x L` is an image of height 1.
        let d = as_nchw(&dims);
        let one_pixel = d[2] * d[3] == 1 && self.view(x) == (d[0], d[1]);
        if self.nchw_of(&dims, x).is_none() && !one_pixel {
            return Err(self.unsupported(
                node,
                format!(
                    " (its input {dims:?} is laid out as {:?}, not channels-last: one row \
                     per pixel; a feature map made by a reshape is not supported)",
                    self.view(x)
                ),
            ));
        }
        let padding = spec.computed_padding(&dims[2..]);
        let (strides, dilations) = (spec.strides(), spec.dilations());
        let spatial = dims.len() - 2;
        if spec.kernel_shape.len() != spatial || padding.len() != spatial {
            return Err(self.unsupported(node, " (a window of another rank than its input)"));
        }
        // Per axis (height first); a 1-D window has height 1.
        let pair = |v: &[usize], one: usize| {
            if spatial == 1 {
                [one, v[0]]
            } else {
                [v[0], v[1]]
            }
        };
        let conv: Vec<usize> = padding.iter().map(|p| p.convoluted).collect();
        let before: Vec<usize> = padding.iter().map(|p| p.pad_before).collect();
        let win = Window {
            images: d[0],
            h: d[2],
            w: d[3],
            oh: pair(&conv, 1)[0],
            ow: pair(&conv, 1)[1],
            kernel: pair(&spec.kernel_shape, 1),
            stride: pair(&strides, 1),
            dilation: pair(&dilations, 1),
            pad: pair(&before, 0),
            transposed: false,
        };
        if !win.is_sane() {
            return Err(self.unsupported(node, format!(" (a window out of range: {win:?})")));
        }
        Ok(ImageWindow { win, c: d[1] })
    }

    /// Pushes a gather of `x` through `win` (rows `win.rows_out()`; `c` channels in).
    pub(super) fn push_gather(
        &mut self,
        x: StepId,
        win: Window,
        mode: Gather,
        c: usize,
        name: &str,
    ) -> StepId {
        let cols = match win.blocks(mode) {
            1 => c,
            b => b * padded_cols(c),
        };
        self.push(
            PlanOp::Gather {
                input: x,
                win,
                mode,
            },
            win.rows_out(),
            cols,
            name,
        )
    }

    /// Fails unless a `k x n` unrolled matrix stays within [`MAX_UNROLLED`].
    pub(super) fn check_unrolled(
        &self,
        node: &TypedNode,
        k: usize,
        n: usize,
    ) -> Result<(), ImportError> {
        match k.checked_mul(n) {
            Some(e) if e <= MAX_UNROLLED => Ok(()),
            _ => Err(ImportError::Unrolled {
                file: self.src.file.clone(),
                node: node.name.clone(),
                op: node.op.name().into_owned(),
                rows: k,
                cols: n,
                limit: MAX_UNROLLED,
            }),
        }
    }
}

/// The `k x n` integer matrix (row-major) with the given `(row, col, value)` entries summed in:
/// a selection, difference, window sum or permutation over a flattened row.
pub(super) fn sparse_matrix(
    k: usize,
    n: usize,
    entries: impl IntoIterator<Item = (usize, usize, i64)>,
) -> Vec<i64> {
    let mut m = vec![0i64; k * n];
    for (i, j, v) in entries {
        m[i * n + j] += v;
    }
    m
}

/// The row-major multi-index of flat index `i` in `dims`.
pub(super) fn unflatten(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for (a, &d) in dims.iter().enumerate().rev() {
        idx[a] = i % d.max(1);
        i /= d.max(1);
    }
    idx
}

/// The flat index of a row-major multi-index in `dims`.
pub(super) fn flatten(idx: &[usize], dims: &[usize]) -> usize {
    idx.iter().zip(dims).fold(0, |acc, (&i, &d)| acc * d + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_indices_round_trip() {
        let dims = [2, 3, 1, 4];
        for i in 0..24 {
            assert_eq!(flatten(&unflatten(i, &dims), &dims), i);
        }
        assert_eq!(unflatten(23, &dims), vec![1, 2, 0, 3]);
        let m = sparse_matrix(2, 2, [(0, 1, 1), (1, 0, 1), (1, 0, -2)]);
        assert_eq!(m, vec![0, 1, -1, 0]);
        assert_eq!(padded_cols(1), 2);
        assert_eq!(padded_cols(3), 4);
    }
}
