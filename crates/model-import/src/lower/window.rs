//! The geometry shared by convolutions and pools on the flattened NCHW layout, and the size
//! limit on the constant matrices they unroll into.
//!
//! An activation of shape `N x C x H x W` is viewed as `N` rows of `C*H*W` columns in row-major
//! (NCHW) order, which is tract's own memory order: flattening and reshaping stay free, and a
//! spatial operator is a constant `C*H*W x C'*H'*W'` matrix applied to every row.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::PoolSpec;
use tract_onnx::tract_core::ops::nn::DataFormat;

use super::Lowerer;
use crate::error::ImportError;

/// Largest number of entries of a matrix a spatial operator is unrolled into (`2^24`, 64 MiB
/// of f32 at import, a few seconds of proving per million entries).
pub const MAX_UNROLLED: usize = 1 << 24;

/// A 2-D sliding window over `c` channels of `h x w` pixels.
#[derive(Clone, Debug)]
pub(super) struct Window {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pad: [usize; 2],
}

impl Window {
    /// Number of taps of the window.
    pub fn n_taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// Input pixels of one channel.
    pub fn in_pixels(&self) -> usize {
        self.h * self.w
    }

    /// Output pixels of one channel.
    pub fn out_pixels(&self) -> usize {
        self.oh * self.ow
    }

    /// The input pixel (`ih * w + iw`) under tap `t` (`kh * kernel_w + kw`) of the window at
    /// output pixel `o` (`oh * ow + ow`), or `None` where the tap falls on padding.
    pub fn tap(&self, o: usize, t: usize) -> Option<usize> {
        let (y, x) = (o / self.ow, o % self.ow);
        let (ky, kx) = (t / self.kernel[1], t % self.kernel[1]);
        let iy = (y * self.stride[0] + ky * self.dilation[0]).checked_sub(self.pad[0])?;
        let ix = (x * self.stride[1] + kx * self.dilation[1]).checked_sub(self.pad[1])?;
        (iy < self.h && ix < self.w).then_some(iy * self.w + ix)
    }
}

impl Lowerer<'_> {
    /// The window of a 2-D NCHW convolution or pool reading `input`, whose activation must be
    /// viewed as `N` rows of `C*H*W`.
    pub(super) fn window(
        &self,
        node: &TypedNode,
        spec: &PoolSpec,
        input: OutletId,
        view: (usize, usize),
    ) -> Result<Window, ImportError> {
        let dims = self.dims(input)?;
        if spec.data_format != DataFormat::NCHW || dims.len() != 4 {
            return Err(self.unsupported(
                node,
                format!(
                    " on a {:?} input of shape {dims:?} (only 2-D NCHW)",
                    spec.data_format
                ),
            ));
        }
        if view != (dims[0], dims[1] * dims[2] * dims[3]) {
            return Err(self.unsupported(
                node,
                format!(" (its input is laid out as {view:?}, not N x C*H*W)"),
            ));
        }
        let padding = spec.computed_padding(&dims[2..]);
        let (strides, dilations) = (spec.strides(), spec.dilations());
        let pair = |v: &[usize]| [v[0], v[1]];
        if spec.kernel_shape.len() != 2 || padding.len() != 2 {
            return Err(self.unsupported(node, " (only 2-D windows)"));
        }
        Ok(Window {
            c: dims[1],
            h: dims[2],
            w: dims[3],
            oh: padding[0].convoluted,
            ow: padding[1].convoluted,
            kernel: pair(&spec.kernel_shape),
            stride: pair(&strides),
            dilation: pair(&dilations),
            pad: [padding[0].pad_before, padding[1].pad_before],
        })
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
    fn taps_follow_stride_dilation_and_padding() {
        // 5x4 input, 3x3 kernel, stride (2, 1), dilation (1, 2), padding (1, 2) before.
        let win = Window {
            c: 1,
            h: 5,
            w: 4,
            oh: 3,
            ow: 2,
            kernel: [3, 3],
            stride: [2, 1],
            dilation: [1, 2],
            pad: [1, 2],
        };
        // Output (0, 0): rows -1..=1, columns -2, 0, 2.
        let taps: Vec<_> = (0..9).map(|t| win.tap(0, t)).collect();
        assert_eq!(taps[..4], [None; 4]);
        assert_eq!(taps[4..], [Some(0), Some(2), None, Some(4), Some(6)]);
        // Output (2, 1): rows 3..=5 (5 is padding), columns -1, 1, 3.
        assert_eq!(win.tap(5, 4), Some(4 * 4 + 1));
        assert_eq!(win.tap(5, 3), None);
        assert_eq!(win.tap(5, 7), None);
    }

    #[test]
    fn flat_indices_round_trip() {
        let dims = [2, 3, 1, 4];
        for i in 0..24 {
            assert_eq!(flatten(&unflatten(i, &dims), &dims), i);
        }
        assert_eq!(unflatten(23, &dims), vec![1, 2, 0, 3]);
        let m = sparse_matrix(2, 2, [(0, 1, 1), (1, 0, 1), (1, 0, -2)]);
        assert_eq!(m, vec![0, 1, -1, 0]);
    }
}
