//! LayerNorm over the columns of an activation, recognised from the operators it is written
//! in: ONNX `LayerNormalization` (which tract expands) and the exported chain
//! `ReduceMean, Sub, Pow 2 (or Mul, Square), ReduceMean, Add eps, Sqrt, Div (or Rsqrt, Mul),
//! Mul gamma, Add beta`. Each operator moves a lazy [`Val::Norm`] one [`Stage`] further; the
//! normalised value materialises as one [`PlanOp::LayerNorm`] (the `layer_norm` of `model`),
//! with gamma and beta folded in. A row sum or mean that goes elsewhere materialises as a
//! summation matmul; the other stages exist only inside the pattern.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::Reducer;

use super::{Lowerer, Val};
use crate::error::ImportError;
use crate::plan::{PlanOp, StepId};

/// How far along the LayerNorm of `x` a value is (`n` is the number of columns).
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Stage {
    /// `sum_j x_j`.
    Sum,
    /// `sum_j x_j / n`.
    Mean,
    /// `x - mean`.
    Centred,
    /// `(x - mean)^2`.
    Squared,
    /// `sum_j (x_j - mean)^2`.
    SumSq,
    /// The variance.
    Var,
    /// `var + eps`.
    VarEps(f32),
    /// `sqrt(var + eps)`.
    Std(f32),
    /// `1 / sqrt(var + eps)`.
    InvStd(f32),
    /// `(x - mean) / sqrt(var + eps) * gain + bias`.
    Normed {
        eps: f32,
        gain: Vec<f32>,
        bias: Vec<f32>,
    },
}

impl Stage {
    fn formula(&self) -> &'static str {
        match self {
            Stage::Sum => "sum(x)",
            Stage::Mean => "mean(x)",
            Stage::Centred => "x - mean(x)",
            Stage::Squared => "(x - mean(x))^2",
            Stage::SumSq => "sum((x - mean(x))^2)",
            Stage::Var => "var(x)",
            Stage::VarEps(_) => "var(x) + eps",
            Stage::Std(_) => "sqrt(var(x) + eps)",
            Stage::InvStd(_) => "1 / sqrt(var(x) + eps)",
            Stage::Normed { .. } => "the normalised x",
        }
    }
}

fn norm(x: StepId, stage: Stage) -> Val {
    Val::Norm { x, stage }
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 * b.abs().max(1.0)
}

impl Lowerer<'_> {
    /// A reduction over all columns of `x` (`val` is its operand), if it is a step of the
    /// pattern.
    pub(super) fn norm_reduce(&self, reducer: Reducer, val: &Val, x: StepId) -> Option<Val> {
        match (reducer, val) {
            (Reducer::Sum, Val::Act(_)) => Some(norm(x, Stage::Sum)),
            (
                Reducer::Sum,
                Val::Norm {
                    stage: Stage::Squared,
                    ..
                },
            ) => Some(norm(x, Stage::SumSq)),
            (
                Reducer::MeanOfSquares,
                Val::Norm {
                    stage: Stage::Centred,
                    ..
                },
            ) => Some(norm(x, Stage::Var)),
            _ => None,
        }
    }

    /// `stage(x) op c` for a constant `c`, if it is a step of the pattern.
    pub(super) fn norm_with_const(
        &self,
        op: &str,
        x: StepId,
        stage: &Stage,
        c: &Tensor,
        data: &[f32],
    ) -> Option<Val> {
        let n = self.view(x).1;
        let scalar = (data.len() == 1).then(|| data[0]);
        let row = data.len() == n && c.shape().last() == Some(&n);
        let mean_factor = match (op, scalar) {
            ("Mul", Some(k)) => close(k * n as f32, 1.0),
            ("Div", Some(k)) => close(k, n as f32),
            _ => false,
        };
        match stage {
            Stage::Sum if mean_factor => Some(norm(x, Stage::Mean)),
            Stage::SumSq if mean_factor => Some(norm(x, Stage::Var)),
            Stage::Centred if op == "Pow" && scalar == Some(2.0) => Some(norm(x, Stage::Squared)),
            Stage::Var if op == "Add" => scalar.map(|e| norm(x, Stage::VarEps(e))),
            Stage::VarEps(e) if op == "Add" => scalar.map(|k| norm(x, Stage::VarEps(e + k))),
            Stage::Normed { eps, gain, bias } if scalar.is_some() || row => {
                let at = |j: usize| scalar.unwrap_or_else(|| data[j]);
                let (mut gain, mut bias) = (gain.clone(), bias.clone());
                for j in 0..n {
                    match op {
                        "Mul" => (gain[j], bias[j]) = (gain[j] * at(j), bias[j] * at(j)),
                        "Div" if at(j) != 0.0 => {
                            (gain[j], bias[j]) = (gain[j] / at(j), bias[j] / at(j))
                        }
                        "Add" => bias[j] += at(j),
                        "Sub" => bias[j] -= at(j),
                        _ => return None,
                    }
                }
                Some(norm(
                    x,
                    Stage::Normed {
                        eps: *eps,
                        gain,
                        bias,
                    },
                ))
            }
            _ => None,
        }
    }

    /// `op(stage(x))` for an element-wise `op`, if it is a step of the pattern.
    pub(super) fn norm_unary(&self, op: &str, x: StepId, stage: &Stage) -> Option<Val> {
        let eps = match stage {
            Stage::Var => Some(0.0),
            Stage::VarEps(e) => Some(*e),
            _ => None,
        };
        match (op, stage) {
            ("Square", Stage::Centred) => Some(norm(x, Stage::Squared)),
            ("Sqrt", _) => eps.map(|e| norm(x, Stage::Std(e))),
            ("Rsqrt", _) => eps.map(|e| norm(x, Stage::InvStd(e))),
            ("Recip", Stage::Std(e)) => Some(norm(x, Stage::InvStd(*e))),
            _ => None,
        }
    }

    /// `a op b` for two values at least one of which is in the pattern, if the result is.
    pub(super) fn norm_binary(&self, op: &str, a: &Val, b: &Val) -> Option<Val> {
        let normed = |x: StepId, eps: f32| {
            let n = self.view(x).1;
            norm(
                x,
                Stage::Normed {
                    eps,
                    gain: vec![1.0; n],
                    bias: vec![0.0; n],
                },
            )
        };
        let (Val::Act(_) | Val::Norm { .. }, Val::Norm { x, stage }) = (a, b) else {
            return None;
        };
        let (x, sb) = (*x, stage);
        let sa = match a {
            Val::Act(y) if *y == x => None,
            Val::Norm { x: y, stage } if *y == x => Some(stage),
            _ => return None,
        };
        match (op, sa, sb) {
            ("Sub", None, Stage::Mean) => Some(norm(x, Stage::Centred)),
            ("Mul", Some(Stage::Centred), Stage::Centred) => Some(norm(x, Stage::Squared)),
            ("Mul", Some(Stage::Centred), Stage::InvStd(e))
            | ("Mul", Some(Stage::InvStd(e)), Stage::Centred)
            | ("Div", Some(Stage::Centred), Stage::Std(e)) => Some(normed(x, *e)),
            _ => None,
        }
    }

    /// Materialises `stage(x)` as the plan steps that compute it, or fails for a stage that
    /// only exists inside the pattern.
    pub(super) fn norm_act(
        &mut self,
        x: StepId,
        stage: Stage,
        name: &str,
    ) -> Result<StepId, ImportError> {
        let (rows, n) = self.view(x);
        match stage {
            Stage::Sum | Stage::Mean => {
                let sum = PlanOp::IntMatMul {
                    input: x,
                    weight: vec![1; n],
                    k: n,
                };
                let s = self.push(sum, rows, 1, name);
                if stage == Stage::Sum {
                    return Ok(s);
                }
                let c = 1.0 / n as f32;
                Ok(self.push(PlanOp::Scale { input: s, c }, rows, 1, name))
            }
            Stage::Normed { eps, gain, bias } => {
                let op = PlanOp::LayerNorm {
                    input: x,
                    gain,
                    bias,
                    eps,
                };
                Ok(self.push(op, rows, n, name))
            }
            other => Err(ImportError::Unsupported {
                file: self.src.file.clone(),
                node: name.into(),
                op: "LayerNorm".into(),
                detail: format!(
                    " (this node reads {}, a piece of the pattern (x - mean) / sqrt(var + eps) \
                     * gamma + beta, outside it)",
                    other.formula()
                ),
            }),
        }
    }
}
