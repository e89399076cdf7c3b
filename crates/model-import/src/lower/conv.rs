//! Conv (2-D, NCHW, any groups, constant OIHW kernel) on the channels-last layout: im2col as a
//! proved window gather, then one matmul by the kernel, committed once, then the bias.
//!
//! The gather puts tap `t` of every output pixel's window in column block `t` (blocks are
//! `C_in` padded to a power of two wide: [`super::window::padded_cols`]), so the patch matrix
//! has `N*H'*W'` rows and `taps * C_in'` columns and the weight is `taps * C_in' x C_out`: the
//! kernel's `C_out*C_in*kh*kw` entries, with zero rows for the padding channels. A grouped
//! (or depthwise) convolution uses the same weight with the entries across groups zero. A
//! `1x1` convolution with stride 1 and no padding needs no gather.

use model::window::Gather;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, Deconv, KernelFormat};

use super::window::padded_cols;
use super::{Lowerer, Val};
use crate::error::ImportError;
use crate::plan::{nchw_to_nhwc, PlanOp, StepId};

/// The sizes of a kernel product: taps, the width of a tap's column block, channels in and
/// out, groups.
#[derive(Clone, Copy)]
struct Taps {
    taps: usize,
    block: usize,
    c: usize,
    co: usize,
    groups: usize,
}

impl Lowerer<'_> {
    pub(super) fn conv(&mut self, node: &TypedNode, op: &Conv) -> Result<Val, ImportError> {
        if op.q_params.is_some() {
            return Err(self.unsupported(node, " (quantised)"));
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
        let iw = self.window(node, &op.pool_spec, input, x)?;
        let (win, c) = (iw.win, iw.c);
        let (co, g) = (op.pool_spec.output_channels, op.group.max(1));
        if !c.is_multiple_of(g) || !co.is_multiple_of(g) {
            return Err(
                self.unsupported(node, format!(" with {g} groups over {c} -> {co} channels"))
            );
        }
        let cg = c / g;
        let want = [co, cg, win.kernel[0], win.kernel[1]];
        let shape = kernel.shape();
        let fits = shape == want || (shape.len() == 3 && shape == [co, cg, win.kernel[1]]);
        if !fits {
            return Err(self.unsupported(
                node,
                format!(" (kernel of shape {:?}, expected {want:?})", kernel.shape()),
            ));
        }
        let w = kernel
            .as_slice::<f32>()
            .map_err(|e| self.unsupported(node, format!(": {e:#}")))?;
        let taps = win.taps();
        let identity = taps == 1 && win.stride == [1, 1] && win.pad == [0, 0];
        let (patches, block) = if identity && (win.oh, win.ow) == (win.h, win.w) {
            (x, c)
        } else {
            let mode = Gather::Taps;
            let block = if taps == 1 { c } else { padded_cols(c) };
            (self.push_gather(x, win, mode, c, &node.name), block)
        };
        let b = match &bias {
            Some(b) => b
                .as_slice::<f32>()
                .map_err(|e| self.unsupported(node, format!(": {e:#}")))?,
            None => &[],
        };
        let taps = Taps {
            taps,
            block,
            c,
            co,
            groups: g,
        };
        self.kernel_product(node, patches, w, taps, win.rows_out(), b)
    }

    /// The patches (`rows x taps*block`) times the kernel (`C_out x C_in/g x taps`, tract's
    /// layout for Conv and ConvTranspose) laid out as a `taps*block x C_out` weight, zero
    /// across groups and on padding channels; plus the bias; marked a feature map.
    fn kernel_product(
        &mut self,
        node: &TypedNode,
        patches: StepId,
        kernel: &[f32],
        t: Taps,
        rows: usize,
        bias: &[f32],
    ) -> Result<Val, ImportError> {
        let (cg, og, co) = (t.c / t.groups, t.co / t.groups, t.co);
        let k = t.taps * t.block;
        self.check_unrolled(node, k, co)?;
        let mut weight = vec![0f32; k * co];
        for o in 0..co {
            let grp = o / og;
            for ci in 0..cg {
                let w_oc = &kernel[(o * cg + ci) * t.taps..][..t.taps];
                for (tap, &wt) in w_oc.iter().enumerate() {
                    weight[(tap * t.block + grp * cg + ci) * co + o] = wt;
                }
            }
        }
        let mm = self.push(
            PlanOp::MatMul {
                input: patches,
                weight,
                k,
            },
            rows,
            co,
            &node.name,
        );
        let y = if bias.iter().all(|&v| v == 0.0) {
            mm
        } else if bias.len() == 1 || bias.len() == co {
            let bias = (0..co).map(|j| bias[j.min(bias.len() - 1)]).collect();
            self.push(PlanOp::Bias { input: mm, bias }, rows, co, &node.name)
        } else {
            return Err(self.unsupported(node, format!(" (a bias of {} values)", bias.len())));
        };
        self.mark_channels_last(node, y)?;
        Ok(Val::Act(y))
    }

    /// ConvTranspose (2-D, NCHW, any groups, constant kernel) on
    /// the channels-last layout: a transposed window gather (output pixel `y` reads input
    /// pixel `i` through tap `k` where `y = i s + k d - pad`) and one matmul by the kernel.
    pub(super) fn deconv(&mut self, node: &TypedNode, op: &Deconv) -> Result<Val, ImportError> {
        let (input, _) = self.operand(node, 0)?;
        let Val::Const(kernel) = self.operand(node, 1)?.1 else {
            return Err(self.unsupported(node, " with a kernel computed at run time"));
        };
        let bias = match self.operand(node, 2)?.1 {
            Val::Const(b) => b,
            _ => return Err(self.unsupported(node, " with a bias computed at run time")),
        };
        let x = self.act(input, &node.name)?;
        let dims = self.dims(input)?;
        let spec = &op.pool_spec;
        let Some([n, c, h, w]) = self.nchw_of(&dims, x) else {
            return Err(self.unsupported(
                node,
                format!(
                    " on {dims:?} laid out as {:?} (a channels-last 2-D NCHW map only)",
                    self.view(x)
                ),
            ));
        };
        let (strides, dilations) = (spec.strides(), spec.dilations());
        if spec.kernel_shape.len() != 2 || op.adjustments.len() != 2 {
            return Err(self.unsupported(node, " (only 2-D windows)"));
        }
        let padding = spec
            .padding
            .compute_for_deconv(
                &[h, w],
                &spec.kernel_shape,
                &dilations,
                &strides,
                &op.adjustments,
            )
            .map_err(|e| self.unsupported(node, format!(": {e:#}")))?;
        let pair = |v: &[usize]| [v[0], v[1]];
        let win = model::window::Window {
            images: n,
            h,
            w,
            oh: padding[0].deconvoluted,
            ow: padding[1].deconvoluted,
            kernel: pair(&spec.kernel_shape),
            stride: pair(&strides),
            dilation: pair(&dilations),
            pad: [padding[0].pad_before, padding[1].pad_before],
            transposed: true,
        };
        let (co, g) = (spec.output_channels, op.group.max(1));
        // tract holds the kernel as `C_out x C_in/g x kh x kw`, as for Conv.
        let want = [co, c / g, win.kernel[0], win.kernel[1]];
        if !win.is_sane() || !c.is_multiple_of(g) || !co.is_multiple_of(g) || kernel.shape() != want
        {
            return Err(self.unsupported(
                node,
                format!(
                    " (kernel {:?}, expected {want:?}; window {win:?})",
                    kernel.shape()
                ),
            ));
        }
        let k_data = kernel
            .as_slice::<f32>()
            .map_err(|e| self.unsupported(node, format!(": {e:#}")))?;
        let taps = win.taps();
        let block = if taps == 1 { c } else { padded_cols(c) };
        let patches = self.push_gather(x, win, Gather::Taps, c, &node.name);
        let b = bias
            .as_slice::<f32>()
            .map_err(|e| self.unsupported(node, format!(": {e:#}")))?;
        let t = Taps {
            taps,
            block,
            c,
            co,
            groups: g,
        };
        self.kernel_product(node, patches, k_data, t, win.rows_out(), b)
    }

    /// `x op c` for a channels-last feature map (of rank `rank`) `x` and a constant per channel (`C x 1 x 1`,
    /// a row here) or of one image's full shape (`C x H x W`, transposed to the layout).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn feature_map_const(
        &mut self,
        node: &TypedNode,
        op: &str,
        x: StepId,
        [n, c, h, w]: [usize; 4],
        rank: usize,
        shape: &[usize],
        data: &[f32],
    ) -> Result<Val, ImportError> {
        // The constant broadcast against the map's own rank, then as N, C, H, W.
        let mut dims = shape.to_vec();
        while dims.len() < rank {
            dims.insert(0, 1);
        }
        if dims.len() == rank && (2..=4).contains(&rank) {
            dims = super::window::as_nchw(&dims).to_vec();
        }
        let values = if dims == [1, c, 1, 1] {
            data.to_vec()
        } else if dims == [1, c, h, w] || (dims == [n, c, h, w] && n == 1) {
            let full = nchw_to_nhwc(data, [1, c, h, w]);
            full.iter().cycle().take(n * h * w * c).copied().collect()
        } else {
            return Err(self.unsupported(
                node,
                format!(
                    " with a constant of shape {shape:?} on a feature map [{n}, {c}, {h}, {w}] \
                     (per channel or of one image's shape)"
                ),
            ));
        };
        let (rows, cols) = self.view(x);
        let zero_divisor = op == "Div" && values.contains(&0.0);
        let op = const_op(op, x, values)
            .filter(|_| !zero_divisor)
            .ok_or_else(|| {
                self.unsupported(
                    node,
                    format!(" with a constant of shape {shape:?} on a feature map"),
                )
            })?;
        Ok(Val::Act(self.push(op, rows, cols, &node.name)))
    }
}

/// `x op c` for a constant `c` of one value per column (a row) or per entry: a bias or a
/// column scaling (`Div` by the reciprocals, a zero divisor only on padding columns, where it
/// gives zero); `None` for other ops.
pub(super) fn const_op(op: &str, x: StepId, values: Vec<f32>) -> Option<PlanOp> {
    Some(match op {
        "Add" => PlanOp::Bias {
            input: x,
            bias: values,
        },
        "Sub" => PlanOp::Bias {
            input: x,
            bias: values.iter().map(|v| -v).collect(),
        },
        "Mul" => PlanOp::ScaleCols {
            input: x,
            c: values,
        },
        "Div" => PlanOp::ScaleCols {
            input: x,
            c: values
                .iter()
                .map(|v| if *v == 0.0 { 0.0 } else { 1.0 / v })
                .collect(),
        },
        _ => return None,
    })
}
