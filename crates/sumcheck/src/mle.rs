//! Multilinear extensions: `eq` tables, evaluation and folding.
//!
//! Index convention: variable 0 is the most significant bit of the table index.

use num_traits::{One, Zero};
use rayon::prelude::*;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
#[cfg(feature = "prover")]
use stwo::prover::backend::simd::m31::{PackedM31, N_LANES};
#[cfg(feature = "prover")]
use stwo::prover::backend::simd::qm31::PackedQM31;

/// Tables at least this long are processed in parallel.
const PAR_THRESHOLD: usize = 1 << 14;
/// `eq` tables of at least this many variables are built as the product of two half-size
/// tables, 16 lanes at a time.
const SPLIT_MIN_VARS: usize = 8;

/// `eq(x, y) = prod_i (x_i y_i + (1 - x_i)(1 - y_i))`.
///
/// # Panics
/// Panics if `x` and `y` have different lengths (a caller bug, never user input).
pub fn eq_eval(x: &[QM31], y: &[QM31]) -> QM31 {
    assert_eq!(x.len(), y.len(), "eq_eval: points of different dimension");
    x.iter()
        .zip(y)
        .map(|(&a, &b)| a * b + (QM31::one() - a) * (QM31::one() - b))
        .product()
}

/// The table `eq(point, b)` for all `b` in `{0,1}^n`, index MSB = variable 0.
pub fn eq_evals(point: &[QM31]) -> Vec<QM31> {
    eq_evals_scaled(point, QM31::one())
}

/// `scale * eq(point, b)` for all `b`.
pub fn eq_evals_scaled(point: &[QM31], scale: QM31) -> Vec<QM31> {
    let n = point.len();
    if n >= SPLIT_MIN_VARS {
        let mut evals = vec![QM31::zero(); 1 << n];
        add_eq_evals_scaled(&mut evals, point, scale);
        return evals;
    }
    let mut evals = Vec::with_capacity(1 << n);
    evals.push(scale);
    // Each step doubles the table: the new variable becomes the least significant bit,
    // so after all steps variable 0 is the most significant one.
    for &r in point {
        let len = evals.len();
        if len >= PAR_THRESHOLD {
            evals = evals
                .par_iter()
                .flat_map_iter(|&v| {
                    let v1 = v * r;
                    [v - v1, v1]
                })
                .collect();
        } else {
            evals.resize(2 * len, QM31::zero());
            for i in (0..len).rev() {
                let v = evals[i];
                let v1 = v * r;
                evals[2 * i] = v - v1;
                evals[2 * i + 1] = v1;
            }
        }
    }
    evals
}

/// The hypercube point of index `i` in `{0,1}^n` (variable 0 = most significant bit).
pub fn hypercube_point(i: usize, n: usize) -> Vec<QM31> {
    (0..n)
        .map(|j| {
            if (i >> (n - 1 - j)) & 1 == 1 {
                QM31::one()
            } else {
                QM31::zero()
            }
        })
        .collect()
}

/// Adds `scale * eq(point, b)` to `acc[b]` for all `b`. Leading coordinates that are exactly
/// 0 or 1 (as in claims lifted into a packed polynomial) select one block, so the cost is the
/// size of that block, not of the whole table.
///
/// # Panics
/// Panics if `acc.len() != 2^point.len()`.
pub fn add_eq_evals_scaled(acc: &mut [QM31], point: &[QM31], scale: QM31) {
    assert_eq!(
        acc.len(),
        1 << point.len(),
        "add_eq_evals_scaled: size mismatch"
    );
    let mut block = 0usize;
    let mut prefix = 0usize;
    for &p in point {
        if p == QM31::zero() || p == QM31::one() {
            block = (block << 1) | usize::from(p == QM31::one());
            prefix += 1;
        } else {
            break;
        }
    }
    let suffix = &point[prefix..];
    let len = 1usize << suffix.len();
    let dst = &mut acc[block * len..(block + 1) * len];
    // eq(suffix, b) = eq(hi, b_hi) · eq(lo, b_lo): two small tables, one product per entry.
    let (hi, lo) = suffix.split_at(suffix.len() / 2);
    let (hi, lo) = (eq_evals_scaled(hi, scale), eq_evals(lo));
    #[cfg(feature = "prover")]
    if lo.len() >= N_LANES {
        // 16 lanes at a time.
        let lo = crate::simd::pack_secure(&lo);
        for_each_row(dst, &hi, |row, c| {
            let c = PackedQM31::broadcast(c);
            for (d, &e) in row.chunks_exact_mut(N_LANES).zip(&lo) {
                let sum = PackedQM31::from_array(std::array::from_fn(|l| d[l])) + c * e;
                d.copy_from_slice(&sum.to_array());
            }
        });
        return;
    }
    for_each_row(dst, &hi, |row, c| {
        for (d, &e) in row.iter_mut().zip(&lo) {
            *d += c * e;
        }
    });
}

/// Calls `f(row, hi[i])` on row `i` of `dst` (`hi.len()` rows of equal length), in parallel
/// for large tables.
fn for_each_row(dst: &mut [QM31], hi: &[QM31], f: impl Fn(&mut [QM31], QM31) + Sync + Send) {
    let row_len = dst.len() / hi.len();
    if dst.len() >= PAR_THRESHOLD {
        dst.par_chunks_mut(row_len)
            .zip(hi.par_iter())
            .for_each(|(row, &c)| f(row, c));
    } else {
        dst.chunks_mut(row_len)
            .zip(hi)
            .for_each(|(row, &c)| f(row, c));
    }
}

/// Evaluates the MLE of a QM31 table at `point`.
///
/// # Panics
/// Panics if `evals.len() != 2^point.len()`.
pub fn eval_mle(evals: &[QM31], point: &[QM31]) -> QM31 {
    assert_eq!(evals.len(), 1 << point.len(), "eval_mle: size mismatch");
    if point.is_empty() {
        return evals[0];
    }
    let mut cur = fold_first(evals, point[0]);
    for &r in &point[1..] {
        fold_in_place(&mut cur, r);
    }
    cur[0]
}

/// Evaluates the MLE of an M31 table at `point`.
///
/// # Panics
/// Panics if `evals.len() != 2^point.len()`.
pub fn eval_mle_base(evals: &[M31], point: &[QM31]) -> QM31 {
    assert_eq!(
        evals.len(),
        1 << point.len(),
        "eval_mle_base: size mismatch"
    );
    let n = point.len();
    if n < SPLIT_MIN_VARS {
        return evals.iter().zip(eq_evals(point)).map(|(&v, e)| e * v).sum();
    }
    // eq(point, b) = eq(hi, b_hi) eq(lo, b_lo): each row of `2^|lo|` entries is dotted with
    // the `lo` table, then scaled by its `hi` entry.
    let (hi, lo) = point.split_at(n - n / 2);
    dot_rows(evals, &eq_evals(hi), &eq_evals(lo))
}

/// `sum_i hi[i] <row i of evals, lo>`, 16 lanes at a time.
#[cfg(feature = "prover")]
fn dot_rows(evals: &[M31], hi: &[QM31], lo: &[QM31]) -> QM31 {
    let lo = crate::simd::pack_secure(lo);
    let row = |(f, &h): (&[M31], &QM31)| {
        let acc = f
            .chunks_exact(N_LANES)
            .zip(&lo)
            .fold(PackedQM31::zero(), |acc, (c, &e)| {
                acc + e * PackedM31::from_array(std::array::from_fn(|l| c[l]))
            });
        acc * PackedQM31::broadcast(h)
    };
    let row_len = evals.len() / hi.len();
    let sum = if evals.len() >= PAR_THRESHOLD {
        evals
            .par_chunks_exact(row_len)
            .zip(hi.par_iter())
            .map(row)
            .reduce(PackedQM31::zero, |a, b| a + b)
    } else {
        evals
            .chunks_exact(row_len)
            .zip(hi)
            .map(row)
            .fold(PackedQM31::zero(), |a, b| a + b)
    };
    sum.pointwise_sum()
}

#[cfg(not(feature = "prover"))]
use dot_rows_scalar as dot_rows;

/// `sum_i hi[i] <row i of evals, lo>` without SIMD (the verifier-only build has no SIMD
/// backend).
#[cfg(any(test, not(feature = "prover")))]
fn dot_rows_scalar(evals: &[M31], hi: &[QM31], lo: &[QM31]) -> QM31 {
    let row = |(f, &h): (&[M31], &QM31)| -> QM31 {
        h * f.iter().zip(lo).map(|(&c, &e)| e * c).sum::<QM31>()
    };
    let row_len = evals.len() / hi.len();
    if evals.len() >= PAR_THRESHOLD {
        evals
            .par_chunks_exact(row_len)
            .zip(hi.par_iter())
            .map(row)
            .sum()
    } else {
        evals.chunks_exact(row_len).zip(hi).map(row).sum()
    }
}

/// Fixes the first (most significant) variable of a table to `r`, returning a new table.
pub fn fold_first<F>(evals: &[F], r: QM31) -> Vec<QM31>
where
    F: Copy + Send + Sync + Into<QM31>,
{
    let half = evals.len() / 2;
    let (lo, hi) = evals.split_at(half);
    if half >= PAR_THRESHOLD {
        lo.par_iter()
            .zip(hi.par_iter())
            .map(|(&a, &b)| {
                let a: QM31 = a.into();
                a + r * (b.into() - a)
            })
            .collect()
    } else {
        lo.iter()
            .zip(hi)
            .map(|(&a, &b)| {
                let a: QM31 = a.into();
                a + r * (b.into() - a)
            })
            .collect()
    }
}

/// Fixes the first (most significant) variable of a QM31 table to `r`, in place.
pub fn fold_in_place(evals: &mut Vec<QM31>, r: QM31) {
    let half = evals.len() / 2;
    let (lo, hi) = evals.split_at_mut(half);
    if half >= PAR_THRESHOLD {
        lo.par_iter_mut()
            .zip(hi.par_iter())
            .for_each(|(a, &b)| *a += r * (b - *a));
    } else {
        for (a, &b) in lo.iter_mut().zip(hi.iter()) {
            *a += r * (b - *a);
        }
    }
    evals.truncate(half);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn qm31(a: u32, b: u32, c: u32, d: u32) -> QM31 {
        QM31::from_m31(M31::from(a), M31::from(b), M31::from(c), M31::from(d))
    }

    fn naive_eval(evals: &[QM31], point: &[QM31]) -> QM31 {
        let n = point.len();
        (0..evals.len())
            .map(|i| evals[i] * eq_eval(&hypercube_point(i, n), point))
            .sum()
    }

    fn arb_qm31() -> impl Strategy<Value = QM31> {
        (
            0u32..(1 << 31) - 1,
            0u32..(1 << 31) - 1,
            0u32..(1 << 31) - 1,
            0u32..(1 << 31) - 1,
        )
            .prop_map(|(a, b, c, d)| qm31(a, b, c, d))
    }

    proptest! {
        #[test]
        fn eval_matches_naive(n in 0usize..6, seed in any::<u64>()) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let evals: Vec<QM31> = (0..1 << n).map(|_| qm31(rng.gen_range(0..1<<30), rng.gen(), 0, 3)).collect();
            let point: Vec<QM31> = (0..n).map(|_| qm31(rng.gen_range(0..1<<30), 5, rng.gen_range(0..1<<30), 1)).collect();
            prop_assert_eq!(eval_mle(&evals, &point), naive_eval(&evals, &point));
        }

        #[test]
        fn eq_table_matches_eq_eval(p in proptest::collection::vec(arb_qm31(), 0..11)) {
            let table = eq_evals(&p);
            let n = p.len();
            for (i, &v) in table.iter().enumerate() {
                let bits: Vec<QM31> = (0..n).map(|j| if (i >> (n - 1 - j)) & 1 == 1 { QM31::one() } else { QM31::zero() }).collect();
                prop_assert_eq!(v, eq_eval(&bits, &p));
            }
            prop_assert_eq!(table.iter().copied().sum::<QM31>(), QM31::one());
        }

        #[test]
        fn eval_on_hypercube_is_lookup(n in 1usize..6, idx in any::<usize>(), seed in any::<u64>()) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let evals: Vec<M31> = (0..1 << n).map(|_| M31::from(rng.gen_range(0..1u32<<30))).collect();
            let i = idx % (1 << n);
            let point: Vec<QM31> = (0..n).map(|j| if (i >> (n - 1 - j)) & 1 == 1 { QM31::one() } else { QM31::zero() }).collect();
            prop_assert_eq!(eval_mle_base(&evals, &point), QM31::from(evals[i]));
        }
    }

    #[test]
    fn split_base_evaluation_matches_folding() {
        for n in [7usize, 8, 9, 14, 15] {
            let evals: Vec<M31> = (0..1u32 << n).map(|i| M31::from(i * 7919 + 3)).collect();
            let point: Vec<QM31> = (0..n as u32)
                .map(|i| qm31(i * 3 + 1, i, 7, i ^ 5))
                .collect();
            let lifted: Vec<QM31> = evals.iter().map(|&v| v.into()).collect();
            assert_eq!(
                eval_mle_base(&evals, &point),
                eval_mle(&lifted, &point),
                "n = {n}"
            );
        }
    }

    /// The verifier-only build's dot product agrees with the SIMD one.
    #[test]
    fn scalar_row_dot_matches_simd() {
        for n in [8usize, 9, 15] {
            let evals: Vec<M31> = (0..1u32 << n).map(|i| M31::from(i * 31 + 5)).collect();
            let point: Vec<QM31> = (0..n as u32).map(|i| qm31(i + 2, 1, i, 4)).collect();
            let (hi, lo) = point.split_at(n - n / 2);
            let (hi, lo) = (eq_evals(hi), eq_evals(lo));
            assert_eq!(
                dot_rows_scalar(&evals, &hi, &lo),
                dot_rows(&evals, &hi, &lo),
                "n = {n}"
            );
        }
    }

    #[test]
    fn sparse_eq_accumulation_matches_dense() {
        let mut p: Vec<QM31> = vec![QM31::one(), QM31::zero(), QM31::one()];
        p.extend((0..4).map(|i| qm31(i + 3, 1, 2, 5)));
        let mut acc = vec![QM31::zero(); 1 << 7];
        add_eq_evals_scaled(&mut acc, &p, qm31(7, 0, 0, 1));
        let dense = eq_evals_scaled(&p, qm31(7, 0, 0, 1));
        assert_eq!(acc, dense);
    }

    #[test]
    fn large_eq_table_parallel_path_matches() {
        let p: Vec<QM31> = (0..16).map(|i| qm31(i * 7 + 1, i, 3, 9)).collect();
        let t = eq_evals(&p);
        assert_eq!(t.len(), 1 << 16);
        let idx = 0b1011_0010_1110_0101usize;
        let bits: Vec<QM31> = (0..16)
            .map(|j| {
                if (idx >> (15 - j)) & 1 == 1 {
                    QM31::one()
                } else {
                    QM31::zero()
                }
            })
            .collect();
        assert_eq!(t[idx], eq_eval(&bits, &p));
    }
}
