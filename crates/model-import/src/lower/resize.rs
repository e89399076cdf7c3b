//! ONNX Resize in nearest mode by integer factors (the upsampling of U-Nets, FPNs and
//! decoders): every input pixel repeated `f_h x f_w` times is a transposed window gather with an
//! `f_h x f_w` kernel and stride (each output pixel reads exactly one input pixel), exact and
//! without weights. The file's coordinate and rounding modes are checked to give exactly that
//! repetition; other modes and interpolations are refused by name.

use model::window::{Gather, Window};
use tract_onnx::prelude::*;

use super::window::as_nchw;
use super::{Lowerer, Val};
use crate::error::ImportError;

impl Lowerer<'_> {
    pub(super) fn resize(&mut self, node: &TypedNode) -> Result<Val, ImportError> {
        let Some(attrs) = self.src.resize.get(&node.name).cloned() else {
            return Err(self.unsupported(node, " (its attributes are not in the file)"));
        };
        if attrs.mode != "nearest" {
            return Err(
                self.unsupported(node, format!(" with mode '{}' (only nearest)", attrs.mode))
            );
        }
        let (input, _) = self.operand(node, 0)?;
        let x = self.act(input, &node.name)?;
        let dims = self.dims(input)?;
        let out = self.dims(OutletId::new(node.id, 0))?;
        let Some([n, c, h, w]) = self.nchw_of(&dims, x) else {
            return Err(self.unsupported(
                node,
                format!(
                    " on {dims:?} laid out as {:?} (a channels-last feature map only)",
                    self.view(x)
                ),
            ));
        };
        let [on, oc, oh, ow] = as_nchw(&out);
        let factor = |o: usize, i: usize| (i > 0 && o.is_multiple_of(i)).then(|| o / i);
        let (Some(fh), Some(fw)) = (factor(oh, h), factor(ow, w)) else {
            return Err(self.unsupported(
                node,
                format!(" from {dims:?} to {out:?} (integer factors on height and width only)"),
            ));
        };
        if out.len() != dims.len() || on != n || oc != c {
            return Err(self.unsupported(
                node,
                format!(" from {dims:?} to {out:?} (resizes height and width only)"),
            ));
        }
        for (f, len_in) in [(fh, h), (fw, w)] {
            if !repeats(&attrs.coords, &attrs.nearest, f, len_in) {
                return Err(self.unsupported(
                    node,
                    format!(
                        " with coordinate mode '{}' and nearest mode '{}' by {f} (does not \
                         repeat each pixel {f} times)",
                        attrs.coords, attrs.nearest
                    ),
                ));
            }
        }
        if (fh, fw) == (1, 1) {
            return Ok(Val::Act(x));
        }
        let win = Window {
            images: n,
            h,
            w,
            oh,
            ow,
            kernel: [fh, fw],
            stride: [fh, fw],
            dilation: [1, 1],
            pad: [0, 0],
            transposed: true,
        };
        if !win.is_sane() {
            return Err(self.unsupported(node, format!(" (window {win:?} too large)")));
        }
        let s = self.push_gather(x, win, Gather::Sum, c, &node.name);
        self.channels_last.insert(s, [n, c, oh, ow]);
        Ok(Val::Act(s))
    }
}

/// Whether ONNX's nearest Resize by the integer factor `f` along an axis of `len_in` reads
/// input `y / f` for every output `y` (the ONNX operator's coordinate transform, then its
/// rounding, then clamping to the axis).
fn repeats(coords: &str, nearest: &str, f: usize, len_in: usize) -> bool {
    let len_out = f * len_in;
    (0..len_out).all(|y| source(coords, nearest, y, f, len_in, len_out) == Some(y / f))
}

/// The input coordinate nearest Resize reads for output `y`, or `None` for a mode this
/// importer does not know.
fn source(
    coords: &str,
    nearest: &str,
    y: usize,
    f: usize,
    len_in: usize,
    len_out: usize,
) -> Option<usize> {
    let (y, scale) = (y as f64, f as f64);
    let x = match coords {
        "half_pixel" => (y + 0.5) / scale - 0.5,
        "pytorch_half_pixel" if len_out > 1 => (y + 0.5) / scale - 0.5,
        "pytorch_half_pixel" => 0.0,
        "align_corners" if len_out > 1 => y * (len_in - 1) as f64 / (len_out - 1) as f64,
        "align_corners" => 0.0,
        "asymmetric" => y / scale,
        "tf_half_pixel_for_nn" => (y + 0.5) / scale,
        _ => return None,
    };
    let frac = x - x.floor();
    let r = match nearest {
        "round_prefer_floor" if frac == 0.5 => x.floor(),
        "round_prefer_ceil" if frac == 0.5 => x.ceil(),
        "round_prefer_floor" | "round_prefer_ceil" => x.round(),
        "floor" => x.floor(),
        "ceil" => x.ceil(),
        _ => return None,
    };
    Some(r.clamp(0.0, (len_in - 1) as f64) as usize)
}

#[cfg(test)]
mod tests {
    use super::repeats;

    #[test]
    fn nearest_modes_that_repeat_pixels() {
        // PyTorch's Upsample(nearest) and ONNX's defaults repeat pixels for every factor.
        for f in 1..=4 {
            assert!(repeats("asymmetric", "floor", f, 5));
            assert!(repeats("half_pixel", "round_prefer_floor", f, 5));
            assert!(repeats("pytorch_half_pixel", "round_prefer_ceil", f, 5));
        }
        // Rounding up from an asymmetric coordinate moves the repetition for factor 3.
        assert!(repeats("asymmetric", "round_prefer_floor", 2, 5));
        assert!(!repeats("asymmetric", "round_prefer_floor", 3, 5));
        assert!(!repeats("asymmetric", "ceil", 2, 5));
        assert!(!repeats("align_corners", "round_prefer_floor", 3, 5));
        assert!(!repeats("half_pixel_symmetric", "floor", 2, 5));
        assert!(!repeats("half_pixel", "nearest_even", 2, 5));
    }
}
