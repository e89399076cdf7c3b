//! The tables of the phase-1 batching sumcheck after its bucket rounds, in STWO's packed SIMD
//! form while they are at least two packed vectors long: the round sums
//! `Σ (w_lo + X dw)(f_lo + X df)` at `X = 0, 1, 2` and the most-significant-variable folds
//! (the tables are stored bit-reversed, see `batch_lazy`), 16 lanes at a time.

use num_traits::Zero;
use rayon::prelude::*;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::prover::backend::simd::m31::N_LANES;
use stwo::prover::backend::simd::qm31::PackedQM31;
use sumcheck::mle::fold_in_place;
use sumcheck::simd::pack_secure;

/// Packed vectors per parallel task.
const TASK: usize = 1 << 10;

/// A secure-field table, packed while it has at least `2 · N_LANES` entries.
pub(crate) enum SecureTable {
    Packed(Vec<PackedQM31>),
    Scalar(Vec<QM31>),
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

/// One claim's term of [`eq_sum_table`]: `scale · eq(suffix, ·)` on the slice its boolean
/// prefix selects.
enum SliceTerm {
    /// A slice shorter than 256 entries: its values, from scalar index `start`.
    Small { start: usize, values: Vec<QM31> },
    /// `eq(hi, b_hi) · scale · eq(lo, b_lo)` from packed index `start`: row `h` is `lo`
    /// scaled by `hi[h]`.
    Split {
        start: usize,
        hi: Vec<QM31>,
        lo: Vec<PackedQM31>,
    },
}

impl SliceTerm {
    fn new(point: &[QM31], scale: QM31) -> Self {
        let prefix = point
            .iter()
            .take_while(|&&p| p == QM31::zero() || p == QM31::from(M31::from(1u32)))
            .count();
        let block = point[..prefix]
            .iter()
            .fold(0usize, |b, &p| (b << 1) | usize::from(p != QM31::zero()));
        let suffix = &point[prefix..];
        if suffix.len() < 8 {
            let mut values = vec![QM31::zero(); 1 << suffix.len()];
            sumcheck::mle::add_eq_evals_scaled(&mut values, suffix, scale);
            return Self::Small {
                start: block << suffix.len(),
                values,
            };
        }
        // `lo` is at least one packed vector.
        let (hi, lo) = suffix.split_at(suffix.len() - suffix.len().div_ceil(2).max(4));
        Self::Split {
            start: (block << suffix.len()) / N_LANES,
            hi: sumcheck::eq_evals(hi),
            lo: pack_secure(&sumcheck::mle::eq_evals_scaled(lo, scale)),
        }
    }

    /// Adds the term's part in packed indices `[r0, r0 + out.len())` to `out`.
    fn add_to(&self, out: &mut [PackedQM31], r0: usize) {
        let r1 = r0 + out.len();
        match self {
            Self::Small { start, values } => {
                let (first, last) = (start / N_LANES, (start + values.len() - 1) / N_LANES);
                for i in first.max(r0)..=last.min(r1.saturating_sub(1)) {
                    let mut lanes = out[i - r0].to_array();
                    for (lane, slot) in lanes.iter_mut().enumerate() {
                        let k = (i * N_LANES + lane).wrapping_sub(*start);
                        if let Some(v) = values.get(k) {
                            *slot += *v;
                        }
                    }
                    out[i - r0] = PackedQM31::from_array(lanes);
                }
            }
            Self::Split { start, hi, lo } => {
                let end = start + hi.len() * lo.len();
                for i in (*start).max(r0)..end.min(r1) {
                    let k = i - start;
                    out[i - r0] += PackedQM31::broadcast(hi[k / lo.len()]) * lo[k % lo.len()];
                }
            }
        }
    }
}

/// `Σ_c scale_c · eq(point_c, ·)` over `n` variables for the claims `(point_c, scale_c)`, built
/// straight into packed form. A boolean prefix of a point (a claim on one slice of a packed
/// polynomial) confines its term to that slice. The terms' factors are built in parallel over
/// claims, then the table in parallel over regions (many claims on small slices are common:
/// an advice polynomial gets hundreds).
pub(crate) fn eq_sum_table(n: usize, claims: &[(&[QM31], QM31)]) -> SecureTable {
    if n < 8 {
        let mut acc = vec![QM31::zero(); 1 << n];
        for &(point, scale) in claims {
            sumcheck::mle::add_eq_evals_scaled(&mut acc, point, scale);
        }
        return SecureTable::new(acc);
    }
    let terms: Vec<SliceTerm> = claims
        .par_iter()
        .map(|&(point, scale)| SliceTerm::new(point, scale))
        .collect();
    let mut acc = vec![PackedQM31::zero(); (1 << n) / N_LANES];
    acc.par_chunks_mut(TASK)
        .enumerate()
        .for_each(|(r, region)| {
            for term in &terms {
                term.add_to(region, r * TASK);
            }
        });
    SecureTable::Packed(acc)
}

fn add3(a: [PackedQM31; 3], b: [PackedQM31; 3]) -> [PackedQM31; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `Σ_i (w_lo + X dw)(f_lo + X df)` at `X = 0, 1, 2`, pairing entry `i` with `i + half`.
pub(crate) fn product_evals(w: &SecureTable, f: &SecureTable) -> [QM31; 3] {
    if let (SecureTable::Packed(w), SecureTable::Packed(f)) = (w, f) {
        if f.len() == w.len() {
            let half = w.len() / 2;
            let sums = (0..half)
                .into_par_iter()
                .with_min_len(TASK)
                .map(|i| {
                    let (w0, w1, f0, f1) = (w[i], w[i + half], f[i], f[i + half]);
                    let (w2, f2) = (w1.double() - w0, f1.double() - f0);
                    [w0 * f0, w1 * f1, w2 * f2]
                })
                .reduce(|| [PackedQM31::zero(); 3], add3);
            return sums.map(PackedQM31::pointwise_sum);
        }
    }
    scalar_product_evals(&unpacked(w), &unpacked(f))
}

pub(crate) fn unpacked(t: &SecureTable) -> Vec<QM31> {
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
            let w = table(n, 9);
            let packed_w = SecureTable::new(w.clone());
            let f = table(n, 2);
            let packed_f = SecureTable::new(f.clone());
            assert_eq!(
                product_evals(&packed_w, &packed_f),
                scalar_product_evals(&w, &f),
                "n = {n}, secure"
            );
            let mut folded = SecureTable::new(w.clone());
            folded.fold(alpha);
            let mut want = w.clone();
            fold_in_place(&mut want, alpha);
            assert_eq!(unpacked(&folded), want, "n = {n}, fold");
        }
    }

    #[test]
    fn packed_eq_sums_match_scalar_ones() {
        let r = |i: u32| QM31::from_u32_unchecked(i + 3, 2 * i + 1, i ^ 5, 7);
        let (zero, one) = (QM31::zero(), QM31::from(M31::from(1u32)));
        // 15 and 16 variables span several parallel regions.
        for n in [3usize, 8, 10, 13, 15, 16] {
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
            // A slice of 8 entries far into the table.
            let small: Vec<QM31> = (0..n as u32)
                .map(|i| match i {
                    i if i + 3 >= n as u32 => r(i + 50),
                    i if i % 2 == 0 => one,
                    _ => zero,
                })
                .collect();
            let claims = [
                (&dense[..], r(40)),
                (&sliced[..], r(41)),
                (&tiny[..], r(42)),
                (&small[..], r(43)),
            ];
            let mut want = vec![QM31::zero(); 1 << n];
            for &(p, s) in &claims {
                sumcheck::mle::add_eq_evals_scaled(&mut want, p, s);
            }
            assert_eq!(unpacked(&eq_sum_table(n, &claims)), want, "n = {n}");
        }
    }
}
