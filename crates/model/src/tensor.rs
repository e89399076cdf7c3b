//! 2-D integer tensors and their embedding into M31.

use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::{M31, P};

/// Shape of a 2-D tensor (row-major).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shape {
    pub rows: usize,
    pub cols: usize,
}

impl Shape {
    pub const fn new(rows: usize, cols: usize) -> Self {
        Self { rows, cols }
    }

    /// Entries (saturating: a shape read from a hostile key or proof may be absurd; the
    /// structure checks refuse it before anything is allocated).
    pub const fn len(&self) -> usize {
        self.rows.saturating_mul(self.cols)
    }

    pub const fn is_empty(&self) -> bool {
        self.rows == 0 || self.cols == 0
    }

    /// `log2` of the padded row count (rows rounded up to a power of two; `usize::BITS` when
    /// that does not fit).
    pub fn log_rows(&self) -> u32 {
        self.rows
            .checked_next_power_of_two()
            .map_or(usize::BITS, usize::ilog2)
    }

    /// `log2` of the padded column count; at least 1, so that every padded tensor has at
    /// least one MLE variable.
    pub fn log_cols(&self) -> u32 {
        self.cols
            .checked_next_power_of_two()
            .map_or(usize::BITS, usize::ilog2)
            .max(1)
    }

    /// Number of MLE variables of the padded tensor.
    pub fn n_vars(&self) -> u32 {
        self.log_rows() + self.log_cols()
    }
}

/// A signed integer tensor. Values are the true integers (not reduced mod p).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tensor {
    pub shape: Shape,
    pub data: Vec<i64>,
}

/// Embeds a signed integer into M31 as `x mod p`.
pub fn to_m31(x: i64) -> M31 {
    M31::from_u32_unchecked(x.rem_euclid(P as i64) as u32)
}

/// Maps an M31 element back to the signed integer in `(-p/2, p/2]`.
pub fn from_m31(x: M31) -> i64 {
    let v = x.0 as i64;
    if v > (P as i64) / 2 {
        v - P as i64
    } else {
        v
    }
}

impl Tensor {
    pub fn new(shape: Shape, data: Vec<i64>) -> Self {
        debug_assert_eq!(shape.len(), data.len());
        Self { shape, data }
    }

    pub fn zeros(shape: Shape) -> Self {
        Self::new(shape, vec![0; shape.len()])
    }

    pub fn get(&self, r: usize, c: usize) -> i64 {
        self.data[r * self.shape.cols + c]
    }

    /// The tensor padded with zeros to `2^log_rows x 2^log_cols`, as M31 values, row-major:
    /// the MLE table of the tensor.
    pub fn to_padded_m31(&self) -> Vec<M31> {
        let Shape { rows, cols } = self.shape;
        let pc = 1usize << self.shape.log_cols();
        let pr = 1usize << self.shape.log_rows();
        let mut out = vec![M31::from_u32_unchecked(0); pr * pc];
        for (dst, src) in out
            .chunks_mut(pc)
            .zip(self.data.chunks(cols.max(1)))
            .take(rows)
        {
            dst.iter_mut().zip(src).for_each(|(d, &v)| *d = to_m31(v));
        }
        out
    }

    /// Largest absolute value (0 for an empty tensor).
    pub fn max_abs(&self) -> i64 {
        self.data.iter().map(|v| v.abs()).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m31_roundtrip() {
        for x in [0i64, 1, -1, 12345, -(1 << 30) + 1, (1 << 30) - 1] {
            assert_eq!(from_m31(to_m31(x)), x);
        }
    }

    #[test]
    fn padding_is_zero() {
        let t = Tensor::new(Shape::new(3, 3), (1..=9).collect());
        let m = t.to_padded_m31();
        assert_eq!(m.len(), 16);
        assert_eq!(m[4 + 2], to_m31(6));
        assert_eq!(m[3], to_m31(0));
        assert_eq!(m[12], to_m31(0));
    }
}
