//! Element-wise functions realised as lookup tables over the activation range.

use serde::{Deserialize, Serialize};

use crate::graph::Weight;
use crate::tensor::Shape;
use crate::{ACT_BITS, MAX_ABS};

/// An element-wise non-linearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Func {
    Silu,
    /// GELU with the exact (erf) form.
    Gelu,
    /// GELU's tanh approximation (`gelu_pytorch_tanh`, Gemma's MLP).
    GeluTanh,
    Sigmoid,
    Tanh,
    /// `exp(x)` (softmax numerators, after the row maximum is subtracted).
    Exp,
    /// `1 / sqrt(x)` for `x > 0`, 0 otherwise (RMSNorm / LayerNorm).
    Rsqrt,
}

impl Func {
    /// The real function.
    pub fn eval(self, x: f64) -> f64 {
        match self {
            Func::Silu => x / (1.0 + (-x).exp()),
            Func::Gelu => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
            Func::GeluTanh => {
                let k = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
            }
            Func::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Func::Tanh => x.tanh(),
            Func::Exp => x.exp(),
            Func::Rsqrt => {
                if x > 0.0 {
                    1.0 / x.sqrt()
                } else {
                    0.0
                }
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Func::Silu => "silu",
            Func::Gelu => "gelu",
            Func::GeluTanh => "gelu_tanh",
            Func::Sigmoid => "sigmoid",
            Func::Tanh => "tanh",
            Func::Exp => "exp",
            Func::Rsqrt => "rsqrt",
        }
    }

    /// Name of the table weight for these scales.
    pub fn table_name(self, in_scale: u32, out_scale: u32) -> String {
        format!("table/{}/{in_scale}/{out_scale}", self.name())
    }

    /// The table: row `b` holds `round(f((b - 2^(ACT_BITS-1)) / 2^in_scale) * 2^out_scale)`,
    /// clamped to the M31-safe range (`rsqrt`, always a factor of a product with an
    /// activation, below `2^14`, so that the product stays below `2^29`, where the rescale
    /// that follows has a sound output range for any shift). Computed once when the model is
    /// built and committed with its weights, so prover and verifier never recompute floating
    /// point.
    pub fn table(self, in_scale: u32, out_scale: u32) -> Weight {
        let half = 1i64 << (ACT_BITS - 1);
        let (si, so) = ((1u64 << in_scale) as f64, (1u64 << out_scale) as f64);
        let hi = match self {
            Func::Rsqrt => (half >> 1) - 1,
            _ => MAX_ABS,
        };
        let data = (0..1i64 << ACT_BITS)
            .map(|b| {
                let y = (self.eval((b - half) as f64 / si) * so).round();
                if y.is_finite() {
                    (y as i64).clamp(-hi, hi)
                } else {
                    hi
                }
            })
            .collect();
        Weight {
            name: self.table_name(in_scale, out_scale),
            shape: Shape::new(1, 1 << ACT_BITS),
            scale: out_scale,
            data,
        }
    }
}

/// The error function (Abramowitz–Stegun 7.1.26 refined by one Newton-free series switch):
/// absolute error below 1.5e-7, far below the table's quantisation step.
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.3275911 * x.abs());
    let poly = t
        * (0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x >= 0.0 {
        y
    } else {
        -y
    }
}

#[cfg(test)]
mod tests {

    /// The tanh form stays within 1e-3 of the exact GELU (its known approximation error).
    #[test]
    fn gelu_tanh_is_close_to_gelu() {
        let worst = (-600..=600)
            .map(|i| i as f64 / 100.0)
            .map(|x| (Func::GeluTanh.eval(x) - Func::Gelu.eval(x)).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-3 && worst > 0.0, "{worst}");
    }
    use super::*;

    #[test]
    fn tables_match_the_functions() {
        let t = Func::Silu.table(8, 8);
        let half = 1i64 << (ACT_BITS - 1);
        // silu(1.0) = 0.7311 -> 187/256
        assert_eq!(t.data[(half + 256) as usize], 187);
        assert_eq!(t.data[half as usize], 0);
        let g = Func::Gelu.table(8, 8);
        // gelu(1.0) = 0.8413 -> 215/256
        assert_eq!(g.data[(half + 256) as usize], 215);
        let r = Func::Rsqrt.table(8, 12);
        // rsqrt(4.0) = 0.5 -> 2048
        assert_eq!(r.data[(half + 1024) as usize], 2048);
        assert_eq!(r.data[(half - 5) as usize], 0);
        assert!((erf(0.5) - 0.520_499_877_8).abs() < 2e-7);
    }
}
