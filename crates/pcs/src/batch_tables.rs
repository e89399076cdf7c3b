//! The tables of the phase-1 batching sumcheck, in STWO's packed SIMD form while they are at
//! least two packed vectors long: the round sums `Σ (w_lo + X dw)(f_lo + X df)` at `X = 0, 1, 2`
//! and the most-significant-variable folds, 16 lanes at a time.

use num_traits::Zero;
use rayon::prelude::*;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::prover::backend::simd::m31::{PackedM31, N_LANES};
use stwo::prover::backend::simd::qm31::PackedQM31;
use sumcheck::mle::{fold_first, fold_in_place};
use sumcheck::simd::pack_secure;

/// Packed vectors per parallel task.
const TASK: usize = 1 << 10;

/// A secure-field table, packed while it has at least `2 · N_LANES` entries.
pub(crate) enum SecureTable {
    Packed(Vec<PackedQM31>),
    Scalar(Vec<QM31>),
}

/// The polynomial side of a round: the committed base-field evaluations (first round) or the
/// folded secure table.
pub(crate) enum PolyTable<'a> {
    Base(&'a [M31]),
    Secure(&'a SecureTable),
}

impl SecureTable {
    pub(crate) fn new(values: Vec<QM31>) -> Self {
        if values.len() >= 2 * N_LANES {
            Self::Packed(pack_secure(&values))
        } else {
            Self::Scalar(values)
        }
    }

    /// `v[0]` (the value once every variable is bound).
    pub(crate) fn first(&self) -> QM31 {
        match self {
            Self::Packed(v) => v[0].to_array()[0],
            Self::Scalar(v) => v[0],
        }
    }

    /// Binds the most significant variable to `alpha`: `v[i] + alpha (v[i + half] − v[i])`.
    pub(crate) fn fold(&mut self, alpha: QM31) {
        match self {
            Self::Scalar(v) => fold_in_place(v, alpha),
            Self::Packed(v) => {
                let half = v.len() / 2;
                let a = PackedQM31::broadcast(alpha);
                let (lo, hi) = v.split_at(half);
                let folded: Vec<PackedQM31> = lo
                    .par_iter()
                    .zip(hi.par_iter())
                    .with_min_len(TASK)
                    .map(|(&l, &h)| l + (h - l) * a)
                    .collect();
                *self = Self::from_packed(folded);
            }
        }
    }

    fn from_packed(v: Vec<PackedQM31>) -> Self {
        if v.len() >= 2 {
            Self::Packed(v)
        } else {
            Self::Scalar(v.iter().flat_map(|p| p.to_array()).collect())
        }
    }
}

/// `Σ_c scale_c · eq(point_c, ·)` over `n` variables for the claims `(point_c, scale_c)`, built
/// straight into packed form. A boolean prefix of a point (a claim on one slice of a packed
/// polynomial) confines its term to that slice.
pub(crate) fn eq_sum_table(n: usize, claims: &[(&[QM31], QM31)]) -> SecureTable {
    if n < 8 {
        let mut acc = vec![QM31::zero(); 1 << n];
        for &(point, scale) in claims {
            sumcheck::mle::add_eq_evals_scaled(&mut acc, point, scale);
        }
        return SecureTable::new(acc);
    }
    let mut acc = vec![PackedQM31::zero(); (1 << n) / N_LANES];
    for &(point, scale) in claims {
        let prefix = point
            .iter()
            .take_while(|&&p| p == QM31::zero() || p == QM31::from(M31::from(1u32)))
            .count();
        let block = point[..prefix]
            .iter()
            .fold(0usize, |b, &p| (b << 1) | usize::from(p != QM31::zero()));
        let suffix = &point[prefix..];
        if suffix.len() < 8 {
            // A small slice: scalar, then added lane by lane.
            let mut e = vec![QM31::zero(); 1 << suffix.len()];
            sumcheck::mle::add_eq_evals_scaled(&mut e, suffix, scale);
            let start = block << suffix.len();
            for (k, v) in e.into_iter().enumerate() {
                let (i, lane) = ((start + k) / N_LANES, (start + k) % N_LANES);
                let mut lanes = acc[i].to_array();
                lanes[lane] += v;
                acc[i] = PackedQM31::from_array(lanes);
            }
            continue;
        }
        // eq(suffix, b) = eq(hi, b_hi) · eq(lo, b_lo) with `lo` at least one packed vector.
        let (hi, lo) = suffix.split_at(suffix.len() - suffix.len().div_ceil(2).max(4));
        let hi = sumcheck::eq_evals(hi);
        let lo = pack_secure(&sumcheck::mle::eq_evals_scaled(lo, scale));
        let len = (1usize << suffix.len()) / N_LANES;
        acc[block * len..(block + 1) * len]
            .par_chunks_mut(lo.len())
            .zip(hi.par_iter())
            .for_each(|(row, &c)| {
                let c = PackedQM31::broadcast(c);
                for (d, &e) in row.iter_mut().zip(&lo) {
                    *d += c * e;
                }
            });
    }
    SecureTable::Packed(acc)
}

/// Binds the most significant variable of base-field evaluations to `alpha`.
pub(crate) fn fold_base(evals: &[M31], alpha: QM31) -> SecureTable {
    if evals.len() < 4 * N_LANES {
        return SecureTable::Scalar(fold_first(evals, alpha));
    }
    let half = evals.len() / 2;
    let a = PackedQM31::broadcast(alpha);
    let folded = evals[..half]
        .par_chunks_exact(N_LANES)
        .zip(evals[half..].par_chunks_exact(N_LANES))
        .with_min_len(TASK)
        .map(|(l, h)| {
            let (l, h) = (load(l), load(h));
            a * (h - l) + l
        })
        .collect();
    SecureTable::Packed(folded)
}

fn load(chunk: &[M31]) -> PackedM31 {
    let mut lanes = [M31::from_u32_unchecked(0); N_LANES];
    lanes.copy_from_slice(chunk);
    PackedM31::from_array(lanes)
}

fn add3(a: [PackedQM31; 3], b: [PackedQM31; 3]) -> [PackedQM31; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `Σ_i (w_lo + X dw)(f_lo + X df)` at `X = 0, 1, 2`, pairing entry `i` with `i + half`.
pub(crate) fn product_evals(w: &SecureTable, f: PolyTable<'_>) -> [QM31; 3] {
    let packed = match (w, &f) {
        (SecureTable::Packed(w), PolyTable::Base(f)) if f.len() == w.len() * N_LANES => {
            let half = w.len() / 2;
            let (fl, fh) = f.split_at(f.len() / 2);
            Some(
                (0..half)
                    .into_par_iter()
                    .with_min_len(TASK)
                    .map(|i| {
                        let (w0, w1) = (w[i], w[i + half]);
                        let r = i * N_LANES..(i + 1) * N_LANES;
                        let (f0, f1) = (load(&fl[r.clone()]), load(&fh[r]));
                        let (w2, f2) = (w1.double() - w0, f1 + f1 - f0);
                        [w0 * f0, w1 * f1, w2 * f2]
                    })
                    .reduce(|| [PackedQM31::zero(); 3], add3),
            )
        }
        (SecureTable::Packed(w), PolyTable::Secure(SecureTable::Packed(f)))
            if f.len() == w.len() =>
        {
            let half = w.len() / 2;
            Some(
                (0..half)
                    .into_par_iter()
                    .with_min_len(TASK)
                    .map(|i| {
                        let (w0, w1, f0, f1) = (w[i], w[i + half], f[i], f[i + half]);
                        let (w2, f2) = (w1.double() - w0, f1.double() - f0);
                        [w0 * f0, w1 * f1, w2 * f2]
                    })
                    .reduce(|| [PackedQM31::zero(); 3], add3),
            )
        }
        _ => None,
    };
    if let Some(sums) = packed {
        return sums.map(PackedQM31::pointwise_sum);
    }
    let w = unpacked(w);
    let f: Vec<QM31> = match f {
        PolyTable::Base(f) => f.iter().map(|&x| x.into()).collect(),
        PolyTable::Secure(t) => unpacked(t),
    };
    scalar_product_evals(&w, &f)
}

fn unpacked(t: &SecureTable) -> Vec<QM31> {
    match t {
        SecureTable::Packed(v) => v.iter().flat_map(|p| p.to_array()).collect(),
        SecureTable::Scalar(v) => v.clone(),
    }
}

fn scalar_product_evals(w: &[QM31], f: &[QM31]) -> [QM31; 3] {
    let half = w.len() / 2;
    let mut sums = [QM31::zero(); 3];
    for i in 0..half {
        let (w0, w1, f0, f1) = (w[i], w[i + half], f[i], f[i + half]);
        let (w2, f2) = (w1 + w1 - w0, f1 + f1 - f0);
        sums[0] += w0 * f0;
        sums[1] += w1 * f1;
        sums[2] += w2 * f2;
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize, seed: u32) -> Vec<QM31> {
        (0..n as u32)
            .map(|i| QM31::from_u32_unchecked(i * 7 + seed, i ^ seed, 3 * i + 1, seed))
            .collect()
    }

    #[test]
    fn packed_rounds_match_scalar_rounds() {
        let alpha = QM31::from_u32_unchecked(5, 6, 7, 8);
        for n in [2usize, 16, 32, 64, 256] {
            let base: Vec<M31> = (0..n as u32).map(|i| M31::from(i * 31 + 4)).collect();
            let w = table(n, 9);
            let f_secure: Vec<QM31> = base.iter().map(|&x| x.into()).collect();
            let packed_w = SecureTable::new(w.clone());
            assert_eq!(
                product_evals(&packed_w, PolyTable::Base(&base)),
                scalar_product_evals(&w, &f_secure),
                "n = {n}, base"
            );
            let f = table(n, 2);
            let packed_f = SecureTable::new(f.clone());
            assert_eq!(
                product_evals(&packed_w, PolyTable::Secure(&packed_f)),
                scalar_product_evals(&w, &f),
                "n = {n}, secure"
            );
            let mut folded = SecureTable::new(w.clone());
            folded.fold(alpha);
            let mut want = w.clone();
            fold_in_place(&mut want, alpha);
            assert_eq!(unpacked(&folded), want, "n = {n}, fold");
            assert_eq!(unpacked(&fold_base(&base, alpha)), fold_first(&base, alpha));
        }
    }

    #[test]
    fn packed_eq_sums_match_scalar_ones() {
        let r = |i: u32| QM31::from_u32_unchecked(i + 3, 2 * i + 1, i ^ 5, 7);
        let (zero, one) = (QM31::zero(), QM31::from(M31::from(1u32)));
        for n in [3usize, 8, 10, 13] {
            let dense: Vec<QM31> = (0..n as u32).map(r).collect();
            let sliced: Vec<QM31> = [one, zero]
                .into_iter()
                .chain((0..n as u32 - 2).map(|i| r(i + 20)))
                .collect();
            let tiny: Vec<QM31> = [zero; 2]
                .into_iter()
                .chain([one; 1])
                .chain((0..n as u32 - 3).map(r))
                .collect();
            let claims = [
                (&dense[..], r(40)),
                (&sliced[..], r(41)),
                (&tiny[..], r(42)),
            ];
            let mut want = vec![QM31::zero(); 1 << n];
            for &(p, s) in &claims {
                sumcheck::mle::add_eq_evals_scaled(&mut want, p, s);
            }
            assert_eq!(unpacked(&eq_sum_table(n, &claims)), want, "n = {n}");
        }
    }
}
