//! One weight matrix quantised to small integers with power-of-two scales.
//!
//! A [`QuantTensor`] keeps what a quantisation strategy produced before it is folded into the
//! graph: the integers (`i8` for [`Strategy::Symmetric8`] and [`Strategy::Int4`], `i32` for
//! [`Strategy::Direct`]) and the exponent of each value's scale, per tensor, per column or
//! per group of rows within a column. Real value `w_ij ~ q_ij * 2^-e_ij`.
//!
//! Exponents may be negative (a weight beyond the integer range gets a coarser grid) down to
//! [`MIN_EXP`]. [`QuantTensor::to_weight`] folds every exponent to the common scale
//! `E = max(0, max e)`: the committed integer is `q_ij * 2^(E - e_ij)`, exactly the quantised
//! value expressed at `2^-E`, so the graph needs a single rescale.
//!
//! Error bound: a value in a column (group) whose exponent is not capped satisfies
//! `|w - q 2^-e| <= 2^-e / 2 < max |w| / qmax`, with `max` over that column (group) and
//! `qmax = 127` (INT8) or `7` (INT4).

use model::{Shape, Weight};

use crate::config::Strategy;

/// Largest INT8 magnitude (symmetric: -128 is not used).
pub const INT8_MAX: i32 = 127;
/// Largest INT4 magnitude (symmetric: -8 is not used).
pub const INT4_MAX: i32 = 7;
/// Coarsest exponent: weights up to `qmax * 2^31` keep their integer range.
pub const MIN_EXP: i32 = -31;

/// The integers of a [`QuantTensor`], row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuantValues {
    I8(Vec<i8>),
    I32(Vec<i32>),
}

impl QuantValues {
    pub fn len(&self) -> usize {
        match self {
            QuantValues::I8(v) => v.len(),
            QuantValues::I32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i` (row-major).
    pub fn get(&self, i: usize) -> i64 {
        match self {
            QuantValues::I8(v) => i64::from(v[i]),
            QuantValues::I32(v) => i64::from(v[i]),
        }
    }
}

/// Where the scale exponents of a [`QuantTensor`] apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exponents {
    /// One exponent for every value.
    Tensor(i32),
    /// `exps[j]` for column `j`.
    Columns(Vec<i32>),
    /// `exps[(i / size) * cols + j]` for row `i`, column `j`: groups of `size` consecutive rows
    /// (the input dimension of a `k x n` weight) per column; the last group may be shorter.
    Groups { size: usize, exps: Vec<i32> },
}

/// A quantised `rows x cols` matrix: `w_ij ~ values_ij * 2^-exp(i, j)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuantTensor {
    /// Source name (an ONNX initializer or a SafeTensors tensor).
    pub name: String,
    pub shape: Shape,
    pub values: QuantValues,
    pub exps: Exponents,
}

/// A real `rows x cols` matrix over `src`, stored row-major either as is or transposed
/// (`src` is `cols x rows`, as a HuggingFace `[out, in]` linear weight).
#[derive(Clone, Copy, Debug)]
pub struct MatrixView<'a> {
    pub src: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub transposed: bool,
}

impl MatrixView<'_> {
    /// Entry `(i, j)` of the (logical) matrix.
    pub fn get(&self, i: usize, j: usize) -> f32 {
        if self.transposed {
            self.src[j * self.rows + i]
        } else {
            self.src[i * self.cols + j]
        }
    }
}

/// `floor(log2(qmax / max_abs))` clamped to `[MIN_EXP, cap]`: the power-of-two scale that
/// puts `max_abs` just inside `[-qmax, qmax]`.
pub fn pow2_exp(max_abs: f64, qmax: i32, cap: u32) -> i32 {
    let cap = cap as i32;
    if max_abs == 0.0 || !max_abs.is_finite() {
        return cap;
    }
    // `as` saturates; the clamp then bounds it.
    let e = (f64::from(qmax) / max_abs).log2().floor() as i32;
    e.clamp(MIN_EXP, cap)
}

/// `round(v * 2^e)` clamped to `[-qmax, qmax]` (non-finite values become 0; callers that see
/// user data reject them first).
fn round_exp(v: f32, e: i32, qmax: i32) -> i32 {
    let x = (f64::from(v) * 2f64.powi(e)).round();
    if x.is_nan() {
        return 0;
    }
    x.clamp(-f64::from(qmax), f64::from(qmax)) as i32
}

/// Quantises `w` by `strategy`, exponents capped at `cap` fractional bits. `Direct` rounds at
/// `2^-cap` into `i32`, saturating (check magnitudes first where that matters).
pub fn quantise_view(name: &str, w: MatrixView<'_>, strategy: Strategy, cap: u32) -> QuantTensor {
    let (rows, cols) = (w.rows, w.cols);
    let shape = Shape::new(rows, cols);
    let name = name.to_string();
    match strategy {
        Strategy::Direct => {
            let mut data = vec![0i32; rows * cols];
            let e = cap as i32;
            for i in 0..rows {
                for j in 0..cols {
                    data[i * cols + j] = round_exp(w.get(i, j), e, i32::MAX);
                }
            }
            QuantTensor {
                name,
                shape,
                values: QuantValues::I32(data),
                exps: Exponents::Tensor(e),
            }
        }
        Strategy::Symmetric8 => grouped(name, w, rows.max(1), INT8_MAX, cap, |exps| {
            Exponents::Columns(exps)
        }),
        Strategy::Int4 { group } => {
            let size = (group as usize).max(1);
            grouped(name, w, size, INT4_MAX, cap, |exps| Exponents::Groups {
                size,
                exps,
            })
        }
    }
}

/// Symmetric quantisation with one exponent per `size` rows of each column.
fn grouped(
    name: String,
    w: MatrixView<'_>,
    size: usize,
    qmax: i32,
    cap: u32,
    layout: impl FnOnce(Vec<i32>) -> Exponents,
) -> QuantTensor {
    let (rows, cols) = (w.rows, w.cols);
    let n_groups = rows.div_ceil(size);
    let mut exps = vec![0i32; n_groups * cols];
    let mut data = vec![0i8; rows * cols];
    for g in 0..n_groups {
        let lo = g * size;
        let hi = (lo + size).min(rows);
        for j in 0..cols {
            let m = (lo..hi).fold(0f64, |m, i| m.max(f64::from(w.get(i, j)).abs()));
            let e = pow2_exp(m, qmax, cap);
            exps[g * cols + j] = e;
            for i in lo..hi {
                // |round_exp| <= qmax <= 127 by the clamp.
                data[i * cols + j] = round_exp(w.get(i, j), e, qmax) as i8;
            }
        }
    }
    QuantTensor {
        name,
        shape: Shape::new(rows, cols),
        values: QuantValues::I8(data),
        exps: layout(exps),
    }
}

impl QuantTensor {
    /// The exponent of entry `(i, j)`.
    pub fn exp(&self, i: usize, j: usize) -> i32 {
        match &self.exps {
            Exponents::Tensor(e) => *e,
            Exponents::Columns(exps) => exps[j],
            Exponents::Groups { size, exps } => exps[(i / size) * self.shape.cols + j],
        }
    }

    /// The common scale of [`Self::to_weight`]: `max(0, max e)`.
    pub fn scale(&self) -> u32 {
        let max = match &self.exps {
            Exponents::Tensor(e) => *e,
            Exponents::Columns(exps) | Exponents::Groups { exps, .. } => {
                exps.iter().copied().max().unwrap_or(0)
            }
        };
        max.max(0) as u32
    }

    /// The folded integers at [`Self::scale`], row-major.
    pub fn folded(&self) -> Vec<i64> {
        let big = self.scale() as i32;
        let cols = self.shape.cols;
        (0..self.values.len())
            .map(|k| self.values.get(k) << (big - self.exp(k / cols, k % cols)))
            .collect()
    }

    /// The graph weight: every value folded to the common scale `2^-scale()` (exact).
    pub fn to_weight(&self) -> Weight {
        Weight {
            name: self.name.clone(),
            shape: self.shape,
            scale: self.scale(),
            data: self.folded().into(),
        }
    }

    /// The graph weight re-rounded at `scale` fractional bits: exact where `scale` is at least
    /// every exponent, otherwise rounded half away from zero (a bias joining at a product
    /// scale, a norm gain at a coarser scale).
    pub fn to_weight_at(&self, scale: u32) -> Weight {
        let cols = self.shape.cols;
        let data = (0..self.values.len())
            .map(|k| {
                let (q, shift) = (
                    self.values.get(k),
                    scale as i32 - self.exp(k / cols, k % cols),
                );
                if shift >= 0 {
                    q << shift
                } else {
                    let d = 1i64 << -shift;
                    (q.abs() + d / 2) / d * q.signum()
                }
            })
            .collect();
        Weight {
            name: self.name.clone(),
            shape: self.shape,
            scale,
            data,
        }
    }

    /// The real values the integers stand for, row-major.
    pub fn dequantise(&self) -> Vec<f32> {
        let cols = self.shape.cols;
        (0..self.values.len())
            .map(|k| {
                let e = self.exp(k / cols, k % cols);
                (self.values.get(k) as f64 * 2f64.powi(-e)) as f32
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64 values in `[-amp, amp)`.
    fn noise(n: usize, seed: u64, amp: f32) -> Vec<f32> {
        crate::seeded_input(n, seed)
            .into_iter()
            .map(|u| (2.0 * u - 1.0) * amp)
            .collect()
    }

    /// `|w - deq| <= max|w over the value's group| / qmax` for every entry.
    fn check_bound(
        w: &[f32],
        rows: usize,
        cols: usize,
        size: usize,
        strategy: Strategy,
        qmax: i32,
    ) {
        let view = MatrixView {
            src: w,
            rows,
            cols,
            transposed: false,
        };
        let q = quantise_view("w", view, strategy, 16);
        let deq = q.dequantise();
        for i in 0..rows {
            for j in 0..cols {
                let lo = i / size * size;
                let hi = (lo + size).min(rows);
                let m = (lo..hi).fold(0f32, |m, r| m.max(w[r * cols + j].abs()));
                let err = (deq[i * cols + j] - w[i * cols + j]).abs();
                assert!(err <= m / qmax as f32 + 1e-7, "({i},{j}): {err} vs {m}");
                assert!(q.values.get(i * cols + j).abs() <= i64::from(qmax));
            }
        }
        // Folding is exact: the weight at the common scale is the dequantised matrix.
        let wt = q.to_weight();
        let s = 2f64.powi(wt.scale as i32);
        for (a, b) in wt.data.iter().zip(&deq) {
            assert_eq!(*a as f64 / s, f64::from(*b));
        }
    }

    #[test]
    fn int4_round_trip_is_within_the_group_bound() {
        for (rows, group) in [(64, 32), (96, 64), (70, 32)] {
            let mut w = noise(rows * 5, rows as u64, 0.1);
            w[3] = 2.5; // an outlier only affects its own group
            check_bound(
                &w,
                rows,
                5,
                group,
                Strategy::Int4 {
                    group: group as u32,
                },
                7,
            );
        }
    }

    #[test]
    fn symmetric8_round_trip_is_within_the_column_bound() {
        let w = noise(40 * 6, 9, 3.0);
        check_bound(&w, 40, 6, 40, Strategy::Symmetric8, 127);
    }

    #[test]
    fn int4_groups_follow_the_rows() {
        // Column 0: group 0 small, group 1 large; the small group keeps a fine grid.
        let mut w = vec![0.01f32; 64];
        w[32] = 7.0;
        let view = MatrixView {
            src: &w,
            rows: 64,
            cols: 1,
            transposed: false,
        };
        let q = quantise_view("w", view, Strategy::Int4 { group: 32 }, 12);
        assert_eq!(q.exp(0, 0), 9); // 7 / 0.01 = 700, floor(log2) = 9
        assert_eq!(q.exp(32, 0), 0);
        assert_eq!(q.values.get(0), 5); // 0.01 * 512 = 5.12
        assert_eq!(q.values.get(32), 7);
        assert_eq!(q.to_weight().data[32], 7 << 9);
    }

    #[test]
    fn large_weights_get_negative_exponents() {
        let w = [1000.0f32, -3.0];
        let view = MatrixView {
            src: &w,
            rows: 2,
            cols: 1,
            transposed: false,
        };
        let q = quantise_view("w", view, Strategy::Symmetric8, 12);
        assert_eq!(q.exp(0, 0), -3); // 127 / 1000 -> 2^-3.x
        assert_eq!(q.values.get(0), 125);
        assert_eq!(q.to_weight().data, vec![1000, 0].into());
        assert_eq!(q.scale(), 0);
    }

    #[test]
    fn transposed_view_reads_columns_from_rows() {
        // src is 2 x 3 ([out, in]); the view is its 3 x 2 transpose.
        let src = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let view = MatrixView {
            src: &src,
            rows: 3,
            cols: 2,
            transposed: true,
        };
        let q = quantise_view("w", view, Strategy::Direct, 0);
        assert_eq!(q.to_weight().data, vec![1, 4, 2, 5, 3, 6].into());
    }

    #[test]
    fn to_weight_at_rounds_to_coarser_scales() {
        let q = QuantTensor {
            name: "b".into(),
            shape: Shape::new(1, 3),
            values: QuantValues::I32(vec![6, -6, 5]),
            exps: Exponents::Tensor(2),
        };
        assert_eq!(q.to_weight_at(1).data, vec![3, -3, 3].into()); // 2.5 rounds away from zero
        assert_eq!(q.to_weight_at(0).data, vec![2, -2, 1].into());
        assert_eq!(q.to_weight_at(4).data, vec![24, -24, 20].into());
    }
}
