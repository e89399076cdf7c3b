//! Sliding windows over channels-last images, the geometry of [`crate::Op::WindowGather`].
//!
//! An activation holding `images` images of `h x w` pixels and `C` channels is laid out
//! channels-last: one row per pixel (`image * h * w + y * w + x`), one column per channel.
//! A window names, for every output pixel and every tap of the kernel, the input pixel the tap
//! reads (or none, on padding). Gathering those rows side by side (one column block per tap)
//! is im2col: a convolution is then one matmul by its kernel, committed once. Summing the taps
//! instead gives window sums (average pools, global pools).
//!
//! A transposed window runs the other way: output pixel `y` reads input pixel `i` through tap
//! `k` where `y = i * stride + k * dilation - pad`, which is ConvTranspose's im2col and, with a
//! `f x f` kernel and stride `f`, nearest upsampling by `f`.
//!
//! The map is public structure: it is part of the model, and the verifier evaluates its
//! multilinear extension itself, in time linear in `out_rows * taps`.

use serde::{Deserialize, Serialize};

use crate::graph::{GraphBuilder, GraphError, NodeId, Op};
use crate::tensor::{Shape, Tensor};

/// Largest image side, kernel side, stride, dilation or padding a window may have.
pub const MAX_SIDE: usize = 1 << 16;
/// Largest `out_rows * taps` (the verifier's work on a window) and `images * h * w`.
pub const MAX_ENTRIES: usize = 1 << 28;

/// A 2-D window over `images` channels-last images of `h x w` pixels, giving `oh x ow` output
/// pixels per image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    pub images: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// Padding before the first pixel, per axis (padding after is implied by `oh`, `ow`).
    pub pad: [usize; 2],
    /// ConvTranspose's direction (see the module documentation).
    pub transposed: bool,
}

impl Window {
    /// One tap per pixel of each of `images` images of `h x w` pixels, one output pixel per
    /// image: with [`Gather::Taps`] each image's rows side by side in one row (a flattening),
    /// with [`Gather::Sum`] their sum (a global pool).
    pub fn whole_image(images: usize, h: usize, w: usize) -> Self {
        Self {
            images,
            h,
            w,
            oh: 1,
            ow: 1,
            kernel: [h, w],
            stride: [1, 1],
            dilation: [1, 1],
            pad: [0, 0],
            transposed: false,
        }
    }

    /// Number of taps of the kernel.
    pub fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// Rows of the input: `images * h * w`.
    pub fn rows_in(&self) -> usize {
        self.images * self.h * self.w
    }

    /// Rows of the output: `images * oh * ow`.
    pub fn rows_out(&self) -> usize {
        self.images * self.oh * self.ow
    }

    /// Whether every size is in range (so that no product below overflows and the verifier's
    /// work is bounded).
    pub fn is_sane(&self) -> bool {
        let sides = [self.images, self.h, self.w, self.oh, self.ow];
        let params = [self.kernel, self.stride, self.dilation];
        sides.iter().all(|&s| (1..=MAX_SIDE).contains(&s))
            && params
                .iter()
                .flatten()
                .all(|&s| (1..=MAX_SIDE).contains(&s))
            && self.pad.iter().all(|&p| p <= MAX_SIDE)
            && [self.rows_in(), self.rows_out()]
                .iter()
                .all(|&r| r <= MAX_ENTRIES)
            && self
                .rows_out()
                .checked_mul(self.taps())
                .is_some_and(|e| e <= MAX_ENTRIES)
    }

    /// The input coordinate on one axis read by output coordinate `o` through tap `k`.
    fn source_axis(&self, axis: usize, o: usize, k: usize, len: usize) -> Option<usize> {
        let (s, d, p) = (self.stride[axis], self.dilation[axis], self.pad[axis]);
        let i = if self.transposed {
            let num = (o + p).checked_sub(k * d)?;
            (num % s == 0).then_some(num / s)?
        } else {
            (o * s + k * d).checked_sub(p)?
        };
        (i < len).then_some(i)
    }

    /// The input pixel (`y * w + x` within the image) that tap `t` (`ky * kernel_w + kx`) of
    /// output pixel `o` (`oy * ow + ox`) reads, or `None` on padding.
    pub fn source(&self, o: usize, t: usize) -> Option<usize> {
        let (oy, ox) = (o / self.ow, o % self.ow);
        let (ky, kx) = (t / self.kernel[1], t % self.kernel[1]);
        let iy = self.source_axis(0, oy, ky, self.h)?;
        let ix = self.source_axis(1, ox, kx, self.w)?;
        Some(iy * self.w + ix)
    }

    /// Calls `f(out_row, tap, in_row)` for every tap that reads a pixel, output rows in order.
    pub fn for_each(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (pin, pout, taps) = (self.h * self.w, self.oh * self.ow, self.taps());
        for img in 0..self.images {
            for o in 0..pout {
                for t in 0..taps {
                    if let Some(i) = self.source(o, t) {
                        f(img * pout + o, t, img * pin + i);
                    }
                }
            }
        }
    }

    /// Calls `f(out_row, block, in_row)` for every entry of the gather in `mode`: `block` is
    /// the output column block the input row is added into.
    pub fn for_each_entry(&self, mode: Gather, mut f: impl FnMut(usize, usize, usize)) {
        match mode {
            Gather::Taps => self.for_each(f),
            Gather::Sum => self.for_each(|o, _, i| f(o, 0, i)),
            Gather::Tap(k) => {
                let (pin, pout, taps) = (self.h * self.w, self.oh * self.ow, self.taps());
                for img in 0..self.images {
                    for o in 0..pout {
                        let first = || (0..taps).find_map(|t| self.source(o, t));
                        if let Some(i) = self.source(o, k).or_else(first) {
                            f(img * pout + o, 0, img * pin + i);
                        }
                    }
                }
            }
        }
    }

    /// Output column blocks of a gather in `mode`.
    pub fn blocks(&self, mode: Gather) -> usize {
        match mode {
            Gather::Taps => self.taps(),
            Gather::Sum | Gather::Tap(_) => 1,
        }
    }
}

/// What a window gather does with the taps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Gather {
    /// Each tap into its own column block (im2col): block `t` holds the input rows read by
    /// tap `t`, zero on padding. Blocks are `2^log_cols` of the input wide.
    Taps,
    /// The taps summed (window sums), zero on padding.
    Sum,
    /// Only tap `k`; on padding the window's first tap that reads a pixel instead (so a
    /// maximum over all taps ignores padding, as ONNX's MaxPool does).
    Tap(usize),
}

/// The output shape of a gather of `x` (`window.rows_in()` rows), or `None` if it does not fit.
pub fn gather_shape(x: Shape, window: &Window, mode: Gather) -> Option<Shape> {
    let mode_ok = match mode {
        Gather::Tap(k) => k < window.taps(),
        Gather::Taps | Gather::Sum => true,
    };
    if !window.is_sane() || !mode_ok || x.rows != window.rows_in() {
        return None;
    }
    let cols = match window.blocks(mode) {
        1 => x.cols,
        b => b.checked_mul(1usize << x.log_cols())?,
    };
    Some(Shape::new(window.rows_out(), cols))
}

/// Runs a gather: the integer tensor the proof system sees.
pub(crate) fn gather(x: &Tensor, window: &Window, mode: Gather, out: Shape) -> Tensor {
    let (xc, oc) = (x.shape.cols, out.cols);
    let block = if window.blocks(mode) == 1 {
        0
    } else {
        1usize << x.shape.log_cols()
    };
    let mut data = vec![0i64; out.len()];
    window.for_each_entry(mode, |o, b, i| {
        let dst = &mut data[o * oc + b * block..][..xc];
        for (d, s) in dst.iter_mut().zip(&x.data[i * xc..(i + 1) * xc]) {
            *d += s;
        }
    });
    Tensor::new(out, data)
}

impl GraphBuilder {
    /// Rows of `input` gathered through `window` ([`Op::WindowGather`]).
    pub fn window_gather(
        &mut self,
        input: NodeId,
        window: Window,
        mode: Gather,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let shape =
            gather_shape(x.shape, &window, mode).ok_or_else(|| GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "window_gather",
                detail: format!(
                    "a {mode:?} gather through {window:?} does not fit an input of {}x{}",
                    x.shape.rows, x.shape.cols
                ),
            })?;
        self.push(
            Op::WindowGather {
                input,
                window,
                mode,
            },
            shape,
            x.scale,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(transposed: bool) -> Window {
        Window {
            images: 1,
            h: 5,
            w: 4,
            oh: 3,
            ow: 2,
            kernel: [3, 3],
            stride: [2, 1],
            dilation: [1, 2],
            pad: [1, 2],
            transposed,
        }
    }

    #[test]
    fn taps_follow_stride_dilation_and_padding() {
        let win = window(false);
        // Output (0, 0): rows -1..=1, columns -2, 0, 2.
        let taps: Vec<_> = (0..9).map(|t| win.source(0, t)).collect();
        assert_eq!(taps[..4], [None; 4]);
        assert_eq!(taps[4..], [Some(0), Some(2), None, Some(4), Some(6)]);
        // Output (2, 1): rows 3..=5 (5 is padding), columns -1, 1, 3.
        assert_eq!(win.source(5, 4), Some(4 * 4 + 1));
        assert_eq!(win.source(5, 3), None);
        assert_eq!(win.source(5, 7), None);
        assert!(win.is_sane());
    }

    #[test]
    fn transposed_window_inverts_the_forward_one() {
        // Forward: output o reads input i through tap k. Transposed with the same parameters
        // over the swapped sizes: output i reads input o through tap k.
        let fwd = window(false);
        let back = Window {
            h: fwd.oh,
            w: fwd.ow,
            oh: fwd.h,
            ow: fwd.w,
            transposed: true,
            ..fwd
        };
        let mut a = vec![];
        fwd.for_each(|o, t, i| a.push((i, t, o)));
        let mut b = vec![];
        back.for_each(|o, t, i| b.push((o, t, i)));
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
    }

    #[test]
    fn insane_windows_are_refused() {
        let mut w = window(false);
        w.stride = [0, 1];
        assert!(!w.is_sane());
        let mut w = window(false);
        w.oh = MAX_SIDE;
        w.ow = MAX_SIDE;
        assert!(!w.is_sane());
    }
}
