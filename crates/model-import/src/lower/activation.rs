//! Piecewise-linear activations of CNNs built from proved ReLUs, exactly:
//!
//! - `min(x, k) = x - relu(x - k)`, `max(x, k) = k + relu(x - k)` (Clip, ReLU6, HardSigmoid's
//!   clamp, as tract expands them into Max / Min with constants);
//! - `max(a, b) = b + relu(a - b)`, `min(a, b) = a - relu(a - b)` between two activations;
//! - LeakyRelu: `alpha x + (1 - alpha) relu(x)`;
//! - HardSwish: `x min(relu(x + 3), 6) / 6`;
//! - PRelu, as tract expands it, `Iff(0 > x, x * s, x)` with `s` a scalar or one slope per
//!   channel: `x s + (1 - s) relu(x)`.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::logic::Comp;

use super::{Lowerer, Val};
use crate::error::ImportError;
use crate::plan::{PlanOp, StepId};

impl Lowerer<'_> {
    fn relu_of(&mut self, x: StepId, name: &str) -> StepId {
        let (r, k) = self.view(x);
        self.push(PlanOp::Relu { input: x }, r, k, name)
    }

    /// `min(x, k)` (`upper`) or `max(x, k)` for a scalar `k`.
    pub(super) fn clamp(&mut self, x: StepId, k: f32, upper: bool, name: &str) -> StepId {
        let (r, c) = self.view(x);
        if !upper && k == 0.0 {
            return self.relu_of(x, name);
        }
        let shifted = self.push(PlanOp::AddScalar { input: x, c: -k }, r, c, name);
        let over = self.relu_of(shifted, name);
        if upper {
            self.push(PlanOp::Sub { lhs: x, rhs: over }, r, c, name)
        } else {
            self.push(PlanOp::AddScalar { input: over, c: k }, r, c, name)
        }
    }

    /// `max(a, b)` or `min(a, b)` (`min`) of two activations of one shape.
    pub(super) fn max_min(&mut self, a: StepId, b: StepId, min: bool, name: &str) -> StepId {
        let (r, c) = self.view(a);
        let diff = self.push(PlanOp::Sub { lhs: a, rhs: b }, r, c, name);
        let over = self.relu_of(diff, name);
        if min {
            self.push(PlanOp::Sub { lhs: a, rhs: over }, r, c, name)
        } else {
            self.push(PlanOp::Add { lhs: b, rhs: over }, r, c, name)
        }
    }

    pub(super) fn leaky_relu(&mut self, node: &TypedNode, alpha: f32) -> Result<Val, ImportError> {
        let (input, _) = self.operand(node, 0)?;
        let x = self.act(input, &node.name)?;
        let (r, c) = self.view(x);
        let name = &node.name;
        let relu = self.relu_of(x, name);
        let pos = self.push(
            PlanOp::Scale {
                input: relu,
                c: 1.0 - alpha,
            },
            r,
            c,
            name,
        );
        if alpha == 0.0 {
            return Ok(Val::Act(relu));
        }
        let lin = self.push(PlanOp::Scale { input: x, c: alpha }, r, c, name);
        Ok(Val::Act(self.push(
            PlanOp::Add { lhs: lin, rhs: pos },
            r,
            c,
            name,
        )))
    }

    pub(super) fn hard_swish(&mut self, node: &TypedNode) -> Result<Val, ImportError> {
        let (input, _) = self.operand(node, 0)?;
        let x = self.act(input, &node.name)?;
        let (r, c) = self.view(x);
        let name = &node.name;
        let plus3 = self.push(PlanOp::AddScalar { input: x, c: 3.0 }, r, c, name);
        let gate = self.relu_of(plus3, name);
        let gate = self.clamp(gate, 6.0, true, name);
        let prod = self.push(PlanOp::Mul { lhs: x, rhs: gate }, r, c, name);
        Ok(Val::Scaled {
            x: prod,
            c: 1.0 / 6.0,
        })
    }

    /// `0 > x` or `x < 0`: [`Val::Negative`]; other comparisons are refused.
    pub(super) fn sign_test(&mut self, node: &TypedNode, op: Comp) -> Result<Val, ImportError> {
        let ((_, a), (_, b)) = (self.operand(node, 0)?, self.operand(node, 1)?);
        let zero = |v: &Val| match v {
            Val::Const(t) => t
                .as_slice::<f32>()
                .is_ok_and(|d| d.iter().all(|&z| z == 0.0)),
            _ => false,
        };
        let x = match (op, &a, &b) {
            (Comp::GT, z, Val::Act(x)) if zero(z) => *x,
            (Comp::LT, Val::Act(x), z) if zero(z) => *x,
            _ => return Err(self.unsupported(node, " (only a sign test x < 0, for PRelu)")),
        };
        Ok(Val::Negative { x })
    }

    /// `Iff(x < 0, x s, x)` = `x s + (1 - s) relu(x)`, `s` a scalar or per channel.
    pub(super) fn prelu(&mut self, node: &TypedNode) -> Result<Val, ImportError> {
        let refuse = |l: &Self| l.unsupported(node, " (only PRelu's form Iff(x < 0, x * s, x))");
        let (cond, (neg_in, neg_val), pos) = (
            self.operand(node, 0)?.1,
            self.operand(node, 1)?,
            self.operand(node, 2)?.1,
        );
        let (Val::Negative { x }, Val::Act(y)) = (cond, pos) else {
            return Err(refuse(self));
        };
        if x != y {
            return Err(refuse(self));
        }
        if let Val::Scaled { x: sx, .. } = neg_val {
            if sx != x {
                return Err(refuse(self));
            }
        }
        let a = self.act(neg_in, &node.name)?;
        let one_minus = match &self.steps[a].op {
            PlanOp::Scale { input, c } if *input == x => vec![1.0 - c],
            PlanOp::ScaleCols { input, c } if *input == x => c.iter().map(|s| 1.0 - s).collect(),
            _ => return Err(refuse(self)),
        };
        let (r, c) = self.view(x);
        let name = &node.name;
        let relu = self.relu_of(x, name);
        let kept = match one_minus.as_slice() {
            [k] => PlanOp::Scale { input: relu, c: *k },
            _ => PlanOp::ScaleCols {
                input: relu,
                c: one_minus,
            },
        };
        let kept = self.push(kept, r, c, name);
        Ok(Val::Act(self.push(
            PlanOp::Add { lhs: a, rhs: kept },
            r,
            c,
            name,
        )))
    }
}
