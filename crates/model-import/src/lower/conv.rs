//! Conv (2-D, NCHW, group 1, constant OIHW kernel) as one matmul with the unrolled (Toeplitz)
//! weight matrix, then the per-channel bias.
//!
//! On the flattened NCHW row (see [`super::window`]), output `(o, y, x)` is
//! `sum_{c, ky, kx} w[o, c, ky, kx] * in[c, y*s + ky*d - pad, x*s + kx*d - pad]`, a linear map:
//! the matrix has `C_in*H*W` rows and `C_out*H'*W'` columns, entry `((c, iy, ix), (o, y, x))`
//! the kernel tap that reads `(iy, ix)` for output `(y, x)`, zero where no tap does. No new
//! proof machinery is needed, but the matrix has `C_in*H*W * C_out*H'*W'` entries where the
//! kernel has `C_out*C_in*kh*kw`: fine for small CNNs (the test model's largest is
//! `144 x 576`), refused beyond [`super::window::MAX_UNROLLED`]. The matrix is quantised like
//! any weight (per output column under `symmetric8`).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat};

use super::{Lowerer, Val};
use crate::error::ImportError;
use crate::plan::PlanOp;

impl Lowerer<'_> {
    pub(super) fn conv(&mut self, node: &TypedNode, op: &Conv) -> Result<Val, ImportError> {
        if op.q_params.is_some() {
            return Err(self.unsupported(node, " (quantised)"));
        }
        if op.group != 1 {
            return Err(
                self.unsupported(node, format!(" with group = {} (only group = 1)", op.group))
            );
        }
        if op.kernel_fmt != KernelFormat::OIHW {
            return Err(self.unsupported(
                node,
                format!(" with a {:?} kernel (only OIHW)", op.kernel_fmt),
            ));
        }
        let (input, _) = self.operand(node, 0)?;
        let Val::Const(kernel) = self.operand(node, 1)?.1 else {
            return Err(self.unsupported(node, " with a kernel computed at run time"));
        };
        let bias = match node.inputs.len() {
            2 => None,
            _ => match self.operand(node, 2)?.1 {
                Val::Const(b) => Some(b),
                _ => return Err(self.unsupported(node, " with a bias computed at run time")),
            },
        };
        let x = self.act(input, &node.name)?;
        let (rows, _) = self.view(x);
        let win = self.window(node, &op.pool_spec, input, self.view(x))?;
        let co = op.pool_spec.output_channels;
        let (k, n) = (win.c * win.in_pixels(), co * win.out_pixels());
        self.check_unrolled(node, k, n)?;
        let want = [co, win.c, win.kernel[0], win.kernel[1]];
        if kernel.shape() != want {
            return Err(self.unsupported(
                node,
                format!(" (kernel of shape {:?}, expected {want:?})", kernel.shape()),
            ));
        }
        let w = kernel
            .as_slice::<f32>()
            .map_err(|e| self.unsupported(node, format!(": {e:#}")))?;
        let (taps, pixels) = (win.n_taps(), win.out_pixels());
        let mut weight = vec![0f32; k * n];
        for o in 0..co {
            for c in 0..win.c {
                let w_oc = &w[(o * win.c + c) * taps..][..taps];
                for p in 0..pixels {
                    for (t, &wt) in w_oc.iter().enumerate() {
                        if let Some(i) = win.tap(p, t) {
                            weight[(c * win.in_pixels() + i) * n + o * pixels + p] += wt;
                        }
                    }
                }
            }
        }
        let mm = self.push(
            PlanOp::MatMul {
                input: x,
                weight,
                k,
            },
            rows,
            n,
            &node.name,
        );
        let b = match &bias {
            Some(b) => b
                .as_slice::<f32>()
                .map_err(|e| self.unsupported(node, format!(": {e:#}")))?,
            None => &[],
        };
        if b.iter().all(|&v| v == 0.0) {
            return Ok(Val::Act(mm));
        }
        if b.len() != 1 && b.len() != co {
            return Err(self.unsupported(node, format!(" (a bias of {} values)", b.len())));
        }
        let bias = (0..n).map(|j| b[(j / pixels).min(b.len() - 1)]).collect();
        Ok(Val::Act(self.push(
            PlanOp::Bias { input: mm, bias },
            rows,
            n,
            &node.name,
        )))
    }
}
