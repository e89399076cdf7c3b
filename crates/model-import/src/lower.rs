//! Lowering tract's decluttered typed graph onto a [`Plan`].
//!
//! Values flowing along tract's edges are constants, activations (plan steps), or lazily
//! applied forms that exist so that the Erf form of Gelu, `0.5 x (1 + erf(x / sqrt 2))`, is
//! recognised whatever order the exporter wrote it in: `x * c` is kept as
//! [`Val::Scaled`] until something needs it, `erf` of `x / sqrt 2` becomes [`Val::Erf`], and so
//! on until the whole pattern collapses into one Gelu lookup. LayerNorm is recognised the same
//! way (`lower/norm.rs`). Convolutions, pools, sums over axes and data-moving transposes become
//! constant matmuls on the flattened NCHW row (`lower/window.rs`, `conv.rs`, `pool.rs`); Concat,
//! Slice (strided too) and Gather with constant indices become column slices, column
//! concatenations or selection matmuls (`lower/select.rs`); Softmax over the feature axis the
//! proved row softmax.

use std::collections::HashMap;
use std::sync::Arc;

use model::Func;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{Gather, Slice, TypedConcat};
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::cnn::{Conv, Deconv, MaxPool, SumPool};
use tract_onnx::tract_core::ops::downsample::Downsample;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::identity::Identity;
use tract_onnx::tract_core::ops::logic::{Comp, Iff};
use tract_onnx::tract_core::ops::nn::{LeakyRelu, Reduce, Softmax, SoftmaxKind};
use tract_onnx::tract_core::ops::source::TypedSource;

use crate::error::ImportError;
use crate::plan::{Plan, PlanInput, PlanOp, PlanOutput, Step, StepId};
use crate::source::OnnxModel;

mod activation;
mod attention;
mod conv;
mod einsum;
mod flatten;
mod norm;
mod pool;
mod resize;
mod select;
mod window;

pub use pool::MAX_POOL_TAPS;
pub use window::MAX_UNROLLED;

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// A value on one of tract's edges.
#[derive(Clone, Debug)]
enum Val {
    Const(Arc<Tensor>),
    Act(StepId),
    /// `c * x`, not yet materialised.
    Scaled {
        x: StepId,
        c: f32,
    },
    /// `erf(x / sqrt 2)`.
    Erf {
        x: StepId,
    },
    /// `1 + erf(x / sqrt 2)`.
    OnePlusErf {
        x: StepId,
    },
    /// `c * x * (1 + erf(x / sqrt 2)) = 2c * gelu(x)`.
    Gelu {
        x: StepId,
        c: f32,
    },
    /// A stage of the LayerNorm of `x` ([`norm`]).
    Norm {
        x: StepId,
        stage: norm::Stage,
    },
    /// An activation cast to integers: only meaningful as Gather indices, which are refused
    /// there by name (an embedding lookup); anything else reading it refuses the Cast.
    Ints {
        node: String,
    },
    /// `1 - x`, not yet materialised (the start of an attention mask).
    OneMinus {
        x: StepId,
    },
    /// `x < 0`, only meaningful as the condition of the `Iff` of a PRelu ([`activation`]).
    Negative {
        x: StepId,
    },
    /// `(1 - keep) * c` for a large negative `c`: an additive attention mask over the keys
    /// whose `keep` entry is 0, only meaningful added to scores ([`PlanOp::KeyMask`]).
    KeyPenalty {
        keep: StepId,
    },
    /// A tensor with leading batch axes: one activation per batch index (row-major), each
    /// viewing the remaining axes as rows and columns ([`attention`]).
    Parts(Vec<StepId>),
    /// `n` images of `pixels x c` values flattened into `n` rows: `x` holds each image's
    /// pixels side by side (`pixels` blocks of `c` padded to a power of two), a permutation of
    /// the flattening with padding columns; only a matmul by constant weights reads it, its
    /// weight rows permuted to match ([`einsum`]).
    PixelMajor {
        x: StepId,
        pixels: usize,
        c: usize,
        /// NCHW flattening (`ch * pixels + p`); otherwise row-major `p * c + ch`.
        channel_major: bool,
    },
}

struct Lowerer<'a> {
    src: &'a OnnxModel,
    steps: Vec<Step>,
    vals: HashMap<OutletId, Val>,
    /// The steps holding a channels-last feature map, with its `N, C, H, W`
    /// ([`window`]): the inputs that are image batches, convolution and pool outputs, and
    /// element-wise steps on them (registered by [`Lowerer::push`]).
    channels_last: HashMap<StepId, [usize; 4]>,
}

/// Lowers the model; every operator outside the supported set is an
/// [`ImportError::Unsupported`] naming it and its node.
pub fn lower(src: &OnnxModel) -> Result<Plan, ImportError> {
    let mut l = Lowerer {
        src,
        steps: vec![],
        vals: HashMap::new(),
        channels_last: HashMap::new(),
    };
    // The inputs first, in order, each in the view the quantised input has.
    let outlets = src
        .typed
        .input_outlets()
        .map_err(|e| l.structure(format!("{e:#}")))?
        .to_vec();
    let mut inputs = Vec::with_capacity(outlets.len());
    for ((index, (spec, o)), (rows, cols)) in src
        .inputs
        .iter()
        .zip(outlets)
        .enumerate()
        .zip(src.input_views())
    {
        let s = l.push(PlanOp::Input { index }, rows, cols, &spec.name);
        l.vals.insert(o, Val::Act(s));
        if let Some(nchw) = spec.nchw.filter(|_| (rows, cols) == spec.view()) {
            l.channels_last.insert(s, nchw);
        }
        inputs.push(PlanInput {
            len: spec.len(),
            ints: spec.ints,
            nchw: spec.nchw.filter(|_| (rows, cols) == spec.view()),
        });
    }
    let order = src
        .typed
        .eval_order()
        .map_err(|e| l.structure(format!("{e:#}")))?;
    for id in order {
        l.node(id)?;
    }
    let outs = src
        .typed
        .output_outlets()
        .map_err(|e| l.structure(format!("{e:#}")))?
        .to_vec();
    if outs.is_empty() {
        return Err(l.structure("the model has no output".into()));
    }
    let mut outputs = Vec::with_capacity(outs.len());
    for (k, o) in outs.into_iter().enumerate() {
        let name = src
            .outputs
            .get(k)
            .cloned()
            .unwrap_or_else(|| format!("output{k}"));
        let step = l.act(o, &name)?;
        let dims = l.dims(o)?;
        outputs.push(PlanOutput {
            nchw: l.nchw_of(&dims, step),
            name,
            step,
            dims,
        });
    }
    Ok(Plan {
        steps: l.steps,
        outputs,
        inputs,
    })
}

impl Lowerer<'_> {
    fn structure(&self, detail: String) -> ImportError {
        ImportError::Structure {
            file: self.src.file.clone(),
            detail,
        }
    }

    fn unsupported(&self, node: &TypedNode, detail: impl Into<String>) -> ImportError {
        ImportError::Unsupported {
            file: self.src.file.clone(),
            node: node.name.clone(),
            op: node.op.name().into_owned(),
            detail: detail.into(),
        }
    }

    fn dims(&self, o: OutletId) -> Result<Vec<usize>, ImportError> {
        let fact = self
            .src
            .typed
            .outlet_fact(o)
            .map_err(|e| self.structure(format!("{e:#}")))?;
        fact.shape
            .as_concrete()
            .map(|d| d.to_vec())
            .ok_or_else(|| self.structure(format!("outlet {o:?} has a symbolic shape")))
    }

    /// Operand `i` of `node` and its value (computed earlier: nodes run in topological order).
    fn operand(&self, node: &TypedNode, i: usize) -> Result<(OutletId, Val), ImportError> {
        let o = *node
            .inputs
            .get(i)
            .ok_or_else(|| self.unsupported(node, format!(" (operand {i} missing)")))?;
        let v = self.vals.get(&o).cloned().ok_or_else(|| {
            self.structure(format!(
                "node '{}' reads {o:?} before it is computed",
                node.name
            ))
        })?;
        Ok((o, v))
    }

    fn push(&mut self, op: PlanOp, rows: usize, cols: usize, name: &str) -> StepId {
        // An element-wise step on a feature map is a feature map of the same shape.
        let same = match &op {
            PlanOp::Relu { input }
            | PlanOp::Func { input, .. }
            | PlanOp::Scale { input, .. }
            | PlanOp::AddScalar { input, .. }
            | PlanOp::Bias { input, .. }
            | PlanOp::ScaleCols { input, .. } => Some(*input),
            PlanOp::Add { lhs, rhs } | PlanOp::Sub { lhs, rhs } | PlanOp::Mul { lhs, rhs } => {
                let (l, r) = (self.channels_last.get(lhs), self.channels_last.get(rhs));
                (l.is_some() && l == r).then_some(*lhs)
            }
            _ => None,
        };
        let map = same
            .filter(|&x| self.view(x) == (rows, cols))
            .and_then(|x| self.channels_last.get(&x).copied());
        self.steps.push(Step {
            op,
            rows,
            cols,
            name: name.into(),
        });
        let id = self.steps.len() - 1;
        if let Some(nchw) = map {
            self.channels_last.insert(id, nchw);
        }
        id
    }

    fn view(&self, s: StepId) -> (usize, usize) {
        (self.steps[s].rows, self.steps[s].cols)
    }

    /// The activation on `o`, materialising a lazy form.
    fn act(&mut self, o: OutletId, name: &str) -> Result<StepId, ImportError> {
        let val = self
            .vals
            .get(&o)
            .cloned()
            .ok_or_else(|| self.structure(format!("{o:?} not computed")))?;
        let s = match val {
            Val::Act(s) => return Ok(s),
            Val::Scaled { x, c } => {
                let (r, k) = self.view(x);
                self.push(PlanOp::Scale { input: x, c }, r, k, name)
            }
            Val::Gelu { x, c } => {
                let (r, k) = self.view(x);
                let g = self.push(
                    PlanOp::Func {
                        input: x,
                        func: Func::Gelu,
                    },
                    r,
                    k,
                    name,
                );
                if (2.0 * c - 1.0).abs() < 1e-6 {
                    g
                } else {
                    self.push(
                        PlanOp::Scale {
                            input: g,
                            c: 2.0 * c,
                        },
                        r,
                        k,
                        name,
                    )
                }
            }
            Val::Norm { x, stage } => self.norm_act(x, stage, name)?,
            Val::Ints { node } => {
                return Err(ImportError::Unsupported {
                    file: self.src.file.clone(),
                    node,
                    op: "Cast".into(),
                    detail: " to an integer type (integers are read only as constant Gather \
                             indices)"
                        .into(),
                })
            }
            Val::Erf { .. } | Val::OnePlusErf { .. } => {
                return Err(ImportError::Unsupported {
                    file: self.src.file.clone(),
                    node: name.into(),
                    op: "Erf".into(),
                    detail: " outside the Gelu pattern 0.5 * x * (1 + erf(x / sqrt(2)))".into(),
                })
            }
            Val::Const(_) => {
                return Err(
                    self.structure(format!("node '{name}' reads a constant as its activation"))
                )
            }
            Val::OneMinus { x } => {
                let (r, k) = self.view(x);
                let neg = self.push(PlanOp::Scale { input: x, c: -1.0 }, r, k, name);
                self.push(PlanOp::AddScalar { input: neg, c: 1.0 }, r, k, name)
            }
            Val::Negative { .. } => {
                return Err(ImportError::Unsupported {
                    file: self.src.file.clone(),
                    node: name.into(),
                    op: "Less".into(),
                    detail: " read as a value (a sign test is supported only as PRelu's condition)"
                        .into(),
                })
            }
            Val::KeyPenalty { .. } => {
                return Err(ImportError::Unsupported {
                    file: self.src.file.clone(),
                    node: name.into(),
                    op: "Mul".into(),
                    detail: " of (1 - mask) by a large negative constant: an attention mask is \
                             supported only added to attention scores"
                        .into(),
                })
            }
            Val::PixelMajor { .. } => {
                return Err(ImportError::Unsupported {
                    file: self.src.file.clone(),
                    node: name.into(),
                    op: "Reshape".into(),
                    detail: " of a feature map into a row: only a MatMul / Gemm with constant \
                             weights may read it"
                        .into(),
                })
            }
            Val::Parts(parts) => {
                return Err(ImportError::Unsupported {
                    file: self.src.file.clone(),
                    node: name.into(),
                    op: "EinSum".into(),
                    detail: format!(
                        " output: {} per-batch matrices read as one activation (only products, \
                         softmax and element-wise ops with constants keep the batch axes)",
                        parts.len()
                    ),
                })
            }
        };
        self.vals.insert(o, Val::Act(s));
        Ok(s)
    }

    fn node(&mut self, id: usize) -> Result<(), ImportError> {
        let node = &self.src.typed.nodes()[id];
        let out = OutletId::new(id, 0);
        let fact = self
            .src
            .typed
            .outlet_fact(out)
            .map_err(|e| self.structure(format!("{e:#}")))?;
        if let Some(k) = &fact.konst {
            let t = k
                .cast_to::<f32>()
                .map_err(|e| self.unsupported(node, format!(": {e:#}")))?;
            self.vals.insert(out, Val::Const(Arc::new(t.into_owned())));
            return Ok(());
        }
        if node.outputs.len() != 1 {
            return Err(self.unsupported(node, " (several outputs)"));
        }
        let val = if node.op_as::<TypedSource>().is_some() {
            // Pushed, in input order, before the walk.
            return Ok(());
        } else if node.op_as::<Identity>().is_some() {
            self.operand(node, 0)?.1
        } else if let Some(op) = node.op_as::<AxisOp>() {
            let (input, val) = self.operand(node, 0)?;
            match op {
                AxisOp::Move(from, to) if self.dims(input)?.get(*from) != Some(&1) => {
                    if let Val::Parts(_) = val {
                        return Err(self.unsupported(node, " of per-batch matrices"));
                    }
                    self.transpose(node, input, val, *from, *to)?
                }
                _ => self.relabel(node, input, val)?,
            }
        } else if let Some(op) = node.op_as::<EinSum>() {
            let consts = (0..node.inputs.len())
                .filter(|&i| matches!(self.operand(node, i), Ok((_, Val::Const(_)))))
                .count();
            if consts == 0 && node.inputs.len() == 2 && op.q_params.is_none() {
                self.einsum_acts(node, op)?
            } else {
                self.einsum(node, op)?
            }
        } else if let Some(op) = node.op_as::<Conv>() {
            self.conv(node, op)?
        } else if let Some(op) = node.op_as::<Deconv>() {
            self.deconv(node, op)?
        } else if let Some(op) = node.op_as::<MaxPool>() {
            self.max_pool(node, op)?
        } else if let Some(op) = node.op_as::<SumPool>() {
            self.sum_pool(node, op)?
        } else if let Some(op) = node.op_as::<Reduce>() {
            self.reduce(node, op)?
        } else if let Some(op) = node.op_as::<Softmax>() {
            self.softmax(node, op)?
        } else if let Some(op) = node.op_as::<TypedConcat>() {
            self.concat(node, op)?
        } else if let Some(op) = node.op_as::<Slice>() {
            self.slice(node, op)?
        } else if let Some(op) = node.op_as::<Downsample>() {
            self.downsample(node, op)?
        } else if let Some(op) = node.op_as::<Gather>() {
            self.gather(node, op)?
        } else if let Some(op) = node.op_as::<Comp>() {
            self.sign_test(node, *op)?
        } else if node.op_as::<Iff>().is_some() {
            self.prelu(node)?
        } else if node.op.name() == "Resize" {
            self.resize(node)?
        } else if let Some(op) = node.op_as::<Cast>() {
            match op.to {
                DatumType::F16 | DatumType::F32 | DatumType::F64 => self.operand(node, 0)?.1,
                _ => Val::Ints {
                    node: node.name.clone(),
                },
            }
        } else if let Some(op) = node.op_as::<TypedBinOp>() {
            self.binary(node, op.0.name())?
        } else if let Some(op) = node.op_as::<ElementWiseOp>() {
            if let Some(l) = op.0.downcast_ref::<LeakyRelu>() {
                self.leaky_relu(node, l.alpha)?
            } else if op.0.name() == "HardSwish" {
                self.hard_swish(node)?
            } else {
                self.unary(node, &op.0.name())?
            }
        } else {
            return Err(self.unsupported(node, ""));
        };
        self.vals.insert(out, val);
        Ok(())
    }

    /// Softmax over the last axis when each row of the activation's view (or of each
    /// per-batch part) is one softmax: one proved softmax per row.
    fn softmax(&mut self, node: &TypedNode, op: &Softmax) -> Result<Val, ImportError> {
        if op.kind == SoftmaxKind::LogSoftmax {
            return Err(self.unsupported(node, ""));
        }
        let (input, val) = self.operand(node, 0)?;
        let dims = self.dims(input)?;
        let last = dims.len().saturating_sub(1);
        let refuse = |l: &Self| {
            l.unsupported(
                node,
                format!(
                    " over axes {:?} of a {dims:?} tensor (only the last axis, with each row of \
                     the layout one softmax)",
                    op.axes
                ),
            )
        };
        if op.axes.as_slice() != [last] || dims.len() < 2 {
            return Err(refuse(self));
        }
        let parts = match val {
            Val::Parts(p) => p,
            _ => vec![self.act(input, &node.name)?],
        };
        if parts.iter().any(|&p| self.view(p).1 != dims[last]) {
            return Err(refuse(self));
        }
        let out: Vec<StepId> = parts
            .iter()
            .map(|&x| {
                let (r, k) = self.view(x);
                self.push(PlanOp::Softmax { input: x }, r, k, &node.name)
            })
            .collect();
        Ok(match out.as_slice() {
            [one] if !matches!(self.vals.get(&input), Some(Val::Parts(_))) => Val::Act(*one),
            _ => Val::Parts(out),
        })
    }

    fn unary(&mut self, node: &TypedNode, op: &str) -> Result<Val, ImportError> {
        let (input, val) = self.operand(node, 0)?;
        if let Val::Norm { x, stage } = &val {
            if let Some(v) = self.norm_unary(op, *x, stage) {
                return Ok(v);
            }
        }
        if op == "Erf" {
            if let Some(Val::Scaled { x, c }) = self.vals.get(&input) {
                if (c - FRAC_1_SQRT_2).abs() < 1e-4 {
                    return Ok(Val::Erf { x: *x });
                }
            }
            return Err(self.unsupported(
                node,
                " outside the Gelu pattern 0.5 * x * (1 + erf(x / sqrt(2)))",
            ));
        }
        if op == "Square" {
            let x = self.act(input, &node.name)?;
            let (r, k) = self.view(x);
            return Ok(Val::Act(self.push(
                PlanOp::Mul { lhs: x, rhs: x },
                r,
                k,
                &node.name,
            )));
        }
        let func = match op {
            "Sigmoid" => Func::Sigmoid,
            "Tanh" => Func::Tanh,
            "Exp" => Func::Exp,
            _ => return Err(self.unsupported(node, "")),
        };
        let x = self.act(input, &node.name)?;
        let (r, k) = self.view(x);
        Ok(Val::Act(self.push(
            PlanOp::Func { input: x, func },
            r,
            k,
            &node.name,
        )))
    }

    fn binary(&mut self, node: &TypedNode, op: &str) -> Result<Val, ImportError> {
        let ((a, va), (b, vb)) = (self.operand(node, 0)?, self.operand(node, 1)?);
        // Put a constant operand second.
        let (a, va, b, vb) = match (&va, &vb) {
            (Val::Const(_), _) if op != "Sub" && op != "Div" => (b, vb, a, va),
            _ => (a, va, b, vb),
        };
        if let Val::Const(c) = &vb {
            return self.with_const(node, op, a, va, c);
        }
        if let (Val::Const(c), "Sub") = (&va, op) {
            let one = c
                .as_slice::<f32>()
                .is_ok_and(|d| d.iter().all(|&v| v == 1.0));
            if one {
                let x = self.act(b, &node.name)?;
                return Ok(Val::OneMinus { x });
            }
        }
        if let Val::Const(_) = va {
            return Err(self.unsupported(node, " with a constant left operand"));
        }
        if op == "Add" {
            for (scores, s, m) in [(a, &va, &vb), (b, &vb, &va)] {
                if let Val::KeyPenalty { keep } = m {
                    return self.key_mask(node, scores, s.clone(), *keep);
                }
            }
        }
        if let Some(v) = self.norm_binary(op, &va, &vb) {
            return Ok(v);
        }
        // Pieces of the Gelu pattern meeting their other half.
        if op == "Mul" {
            for (p, q) in [(&va, &vb), (&vb, &va)] {
                if let Val::OnePlusErf { x } = p {
                    match q {
                        Val::Act(y) if y == x => return Ok(Val::Gelu { x: *x, c: 1.0 }),
                        Val::Scaled { x: y, c } if y == x => return Ok(Val::Gelu { x: *x, c: *c }),
                        _ => {}
                    }
                }
            }
        }
        if let (Val::Parts(pa), Val::Parts(pb)) = (&va, &vb) {
            return self.parts_binary(node, op, pa, pb);
        }
        let (l, r) = (self.act(a, &node.name)?, self.act(b, &node.name)?);
        if self.view(l) != self.view(r) || self.dims(a)? != self.dims(b)? {
            return Err(self.unsupported(node, " (broadcast between two activations)"));
        }
        let (rows, cols) = self.view(l);
        let op = match op {
            "Max" | "Min" => return Ok(Val::Act(self.max_min(l, r, op == "Min", &node.name))),
            "Add" => PlanOp::Add { lhs: l, rhs: r },
            "Mul" => PlanOp::Mul { lhs: l, rhs: r },
            "Sub" => PlanOp::Sub { lhs: l, rhs: r },
            _ => return Err(self.unsupported(node, " between two activations")),
        };
        Ok(Val::Act(self.push(op, rows, cols, &node.name)))
    }

    /// `a op c` for a constant `c`.
    fn with_const(
        &mut self,
        node: &TypedNode,
        op: &str,
        a: OutletId,
        va: Val,
        c: &Tensor,
    ) -> Result<Val, ImportError> {
        let data = c
            .as_slice::<f32>()
            .map_err(|e| self.unsupported(node, format!(": {e:#}")))?;
        if let Val::Parts(parts) = &va {
            return self.parts_with_const(node, op, parts, c.shape(), data);
        }
        if let Val::PixelMajor {
            x,
            pixels,
            c: ch,
            channel_major,
        } = va
        {
            return self.pixel_major_const(node, op, x, pixels, ch, channel_major, data);
        }
        if let Val::Norm { x, stage } = &va {
            if let Some(v) = self.norm_with_const(op, *x, stage, c, data) {
                return Ok(v);
            }
        }
        let scalar = (data.len() == 1).then(|| data[0]);
        match (op, scalar, &va) {
            ("Mul", Some(k), Val::OneMinus { x }) if k <= -1000.0 => {
                return Ok(Val::KeyPenalty { keep: *x })
            }
            ("Mul", Some(k), Val::Scaled { x, c }) => return Ok(Val::Scaled { x: *x, c: c * k }),
            ("Mul", Some(k), Val::Gelu { x, c }) => return Ok(Val::Gelu { x: *x, c: c * k }),
            ("Div", Some(k), Val::Scaled { x, c }) if k != 0.0 => {
                return Ok(Val::Scaled { x: *x, c: c / k })
            }
            ("Add", Some(k), Val::Erf { x }) if (k - 1.0).abs() < 1e-6 => {
                return Ok(Val::OnePlusErf { x: *x })
            }
            ("Mul", Some(k), Val::Act(x)) => return Ok(Val::Scaled { x: *x, c: k }),
            ("Div", Some(k), Val::Act(x)) if k != 0.0 => {
                return Ok(Val::Scaled { x: *x, c: 1.0 / k })
            }
            _ => {}
        }
        let x = self.act(a, &node.name)?;
        let (rows, cols) = self.view(x);
        // A `1 x cols` row, or a constant of the activation's shape whose rows agree (what
        // tract leaves of a Concat with a constant folded into the following MatMul).
        let dims = self.dims(a)?;
        if let (Some(nchw), None) = (self.nchw_of(&dims, x), scalar) {
            return self.feature_map_const(node, op, x, nchw, dims.len(), c.shape(), data);
        }
        let row = if data.len() == cols
            && c.shape().last() == Some(&cols)
            && dims.last() == Some(&cols)
        {
            Some(data)
        } else if cols > 0
            && data.len() == rows * cols
            && c.shape() == dims.as_slice()
            && data.chunks(cols).all(|r| r == &data[..cols])
        {
            Some(&data[..cols])
        } else {
            None
        };
        let row_const = row.is_some();
        // A constant of the activation's own shape whose rows differ (position embeddings).
        let full = row.is_none()
            && data.len() == rows * cols
            && c.shape()
                .iter()
                .filter(|&&d| d > 1)
                .eq(dims.iter().filter(|&&d| d > 1));
        if full && (op == "Add" || op == "Sub") {
            let sign = if op == "Sub" { -1.0 } else { 1.0 };
            let bias = data.iter().map(|v| sign * v).collect();
            return Ok(Val::Act(self.push(
                PlanOp::Bias { input: x, bias },
                rows,
                cols,
                &node.name,
            )));
        }
        let data = row.unwrap_or(data);
        let op = match (op, scalar) {
            ("Add", Some(k)) => PlanOp::AddScalar { input: x, c: k },
            ("Sub", Some(k)) => PlanOp::AddScalar { input: x, c: -k },
            ("Max", Some(k)) => return Ok(Val::Act(self.clamp(x, k, false, &node.name))),
            ("Min", Some(k)) => return Ok(Val::Act(self.clamp(x, k, true, &node.name))),
            ("Add", None) if row_const => PlanOp::Bias {
                input: x,
                bias: data.to_vec(),
            },
            ("Sub", None) if row_const => PlanOp::Bias {
                input: x,
                bias: data.iter().map(|v| -v).collect(),
            },
            ("Mul", None) if row_const => PlanOp::ScaleCols {
                input: x,
                c: data.to_vec(),
            },
            ("Div", None) if row_const && data.iter().all(|v| *v != 0.0) => PlanOp::ScaleCols {
                input: x,
                c: data.iter().map(|v| 1.0 / v).collect(),
            },
            _ => {
                let why = if c.shape() == dims.as_slice() && rows > 1 {
                    " that differs between rows (only a row broadcast over rows is supported)"
                } else {
                    " here"
                };
                return Err(self.unsupported(
                    node,
                    format!(" with a constant of shape {:?}{why}", c.shape()),
                ));
            }
        };
        Ok(Val::Act(self.push(op, rows, cols, &node.name)))
    }
}
