//! Reshapes of feature maps: a relabelling where no data moves, and the flattening of each
//! image into one row ([`Val::PixelMajor`]: a gather of its pixels side by side, read by a
//! Gemm whose weight rows are permuted to match), with constants applied on the way.

use tract_onnx::prelude::*;

use super::{conv, window, Lowerer, Val};
use crate::error::ImportError;
use crate::plan::StepId;

impl Lowerer<'_> {
    /// A reshape that moves no data in the row layout. A channels-last feature map keeps its
    /// layout where only unit axes come or go; flattened into one row per image it becomes
    /// [`Val::PixelMajor`] (a gather of each image's pixels side by side); anything else that
    /// would move its data is refused.
    pub(super) fn relabel(
        &mut self,
        node: &TypedNode,
        input: OutletId,
        val: Val,
    ) -> Result<Val, ImportError> {
        let Val::Act(x) = val else {
            return Ok(val);
        };
        let out = self.dims(OutletId::new(node.id, 0))?;
        let Some(nchw) = self.nchw_of(&self.dims(input)?, x) else {
            return self.flatten_rows(node, input, x, &out, val);
        };
        if self.nchw_of(&out, x) == Some(nchw) {
            return Ok(val);
        }
        let [n, c, h, w] = nchw;
        let flat = match *out.as_slice() {
            [a, b] => a == n && b == c * h * w,
            [b] => n == 1 && b == c * h * w,
            _ => false,
        };
        if !flat {
            return Err(self.unsupported(
                node,
                format!(
                    " of a feature map {:?} into {out:?} (only flattening each image into a \
                     row is supported)",
                    nchw
                ),
            ));
        }
        let win = model::window::Window::whole_image(n, 1, h * w);
        let y = self.push_gather(x, win, model::window::Gather::Taps, c, &node.name);
        Ok(Val::PixelMajor {
            x: y,
            pixels: h * w,
            c,
            channel_major: true,
        })
    }

    /// A reshape of an activation in the row layout `[N, P..., C]` (`N*P` rows of `C`, e.g. a
    /// feature map transposed to NHWC) into `N` rows of `P*C`: each image's rows gathered side
    /// by side ([`Val::PixelMajor`] in row-major order). Any other reshape is a relabelling.
    fn flatten_rows(
        &mut self,
        node: &TypedNode,
        input: OutletId,
        x: StepId,
        out: &[usize],
        val: Val,
    ) -> Result<Val, ImportError> {
        let dims = self.dims(input)?;
        let (rows, c) = self.view(x);
        let n = match *out {
            [a, b] if dims.first() == Some(&a) && b == rows / a.max(1) * c => a,
            [b] if b == rows * c => 1,
            _ => return Ok(val),
        };
        if rows == n || dims.len() < 3 || dims.last() != Some(&c) || !rows.is_multiple_of(n) {
            return Ok(val);
        }
        let pixels = rows / n;
        let win = model::window::Window::whole_image(n, 1, pixels);
        if !win.is_sane() {
            return Err(self.unsupported(node, format!(" of {dims:?} into {out:?} (too large)")));
        }
        let y = self.push_gather(x, win, model::window::Gather::Taps, c, &node.name);
        Ok(Val::PixelMajor {
            x: y,
            pixels,
            c,
            channel_major: false,
        })
    }

    /// `x op c` on a flattened feature map ([`Val::PixelMajor`]) for a scalar or a row over
    /// the flattening: the row permuted into the layout (zero on padding columns, which the
    /// reading matmul ignores); the result keeps the layout.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn pixel_major_const(
        &mut self,
        node: &TypedNode,
        op: &str,
        x: StepId,
        pixels: usize,
        c: usize,
        channel_major: bool,
        data: &[f32],
    ) -> Result<Val, ImportError> {
        let (rows, cols) = self.view(x);
        let block = window::padded_cols(c);
        let row: Vec<f32> = match data.len() {
            1 => vec![data[0]; cols],
            n if n == pixels * c => {
                let mut row = vec![0f32; cols];
                for p in 0..pixels {
                    for ch in 0..c {
                        let at = if channel_major {
                            ch * pixels + p
                        } else {
                            p * c + ch
                        };
                        row[p * block + ch] = data[at];
                    }
                }
                row
            }
            n => {
                return Err(self.unsupported(
                    node,
                    format!(" with a constant of {n} values on a flattened feature map"),
                ))
            }
        };
        let zero_divisor = op == "Div" && data.contains(&0.0);
        let plan = conv::const_op(op, x, row)
            .filter(|_| !zero_divisor)
            .ok_or_else(|| self.unsupported(node, " on a flattened feature map"))?;
        Ok(Val::PixelMajor {
            x: self.push(plan, rows, cols, &node.name),
            pixels,
            c,
            channel_major,
        })
    }
}
