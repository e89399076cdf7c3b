//! The first rounds of the phase-1 batching sumcheck, computed from per-claim buckets.
//!
//! Phase 1 binds each polynomial's variables from its last one (the least significant bit of
//! an evaluation's index) to its first. A claim lifted from one slice of a packed polynomial
//! has a boolean prefix (the slice) and free coordinates inside it, so the first rounds bind
//! variables inside every claim's own slice and never mix slices.
//!
//! Split an index as `(h, a)` with `a` its low `k` bits. For the first `k` rounds of a
//! polynomial (chosen by [`lazy_rounds_for`]), claim `c` (point `p_c`, scale `s_c`) keeps its
//! buckets `E_c[a] = Σ_h eq(p_c[..n-k], h) f(h, a)`, computed in one pass over its slice
//! ([`claim_buckets`]). Round `u` binds bit `u` of `a` (from the bottom); with the buckets
//! already folded over the `u` bound bits, its sums at `X = 0, 1, 2` are
//! `Σ_c s_c eq(p_c[bound], α) eq(p_c[x], X) Σ_i eq(p_c[rest], i) E_c(i, X)`.
//! After the `k` rounds, the eq-sum table and the folded polynomial have `2^(n-k)` entries;
//! they are stored bit-reversed, so the remaining variables, still bound lowest first, are
//! the tables' most significant ones (the tabled rounds of `batch_tables`).

use num_traits::{One, Zero};
use rayon::prelude::*;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::core::utils::bit_reverse;
use stwo::prover::backend::simd::m31::{PackedM31, N_LANES};
use stwo::prover::backend::simd::qm31::PackedQM31;
use sumcheck::mle::{eq_eval, eq_evals};
use sumcheck::simd::pack_secure;

use crate::batch_tables::{eq_sum_table, unpacked, SecureTable};

/// Most rounds computed from buckets for one polynomial (`2^MAX_LAZY_ROUNDS` per claim).
pub(crate) const MAX_LAZY_ROUNDS: usize = 12;

/// Base-field entries per parallel task of the passes over the evaluations.
const TASK_ENTRIES: usize = 1 << 14;

/// The number `k` of bucket rounds for a polynomial of `n` variables with `n_claims` claims:
/// it minimises the bucket rounds' work (about `6 · 2^k` secure products per claim) plus the
/// work on the `2^(n-k)`-entry tables after them. At least `min(n, 4)`, so that a bucket is a
/// whole packed vector and no table ever has the polynomial's full size.
pub(crate) fn lazy_rounds_for(n: usize, n_claims: usize) -> usize {
    let lo = n.min(4);
    let hi = n.min(MAX_LAZY_ROUNDS);
    let cost = |k: usize| 6 * n_claims as u128 * (1u128 << k) + 8 * (1u128 << (n - k));
    (lo..=hi).min_by_key(|&k| cost(k)).unwrap_or(lo)
}

fn is_bit(v: QM31) -> bool {
    v == QM31::zero() || v == QM31::one()
}

/// The boolean prefix of `point` as an index, and its length.
fn boolean_prefix(point: &[QM31]) -> (usize, usize) {
    let k = point.iter().take_while(|&&p| is_bit(p)).count();
    let bits = point[..k]
        .iter()
        .fold(0usize, |b, &p| (b << 1) | usize::from(p != QM31::zero()));
    (bits, k)
}

fn load(chunk: &[M31]) -> PackedM31 {
    let mut lanes = [M31::from_u32_unchecked(0); N_LANES];
    lanes.copy_from_slice(chunk);
    PackedM31::from_array(lanes)
}

fn add_packed(mut a: Vec<PackedQM31>, b: Vec<PackedQM31>) -> Vec<PackedQM31> {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
    a
}

/// `E[a] = Σ_h eq(point[..n-k], h) f(h, a)` for `a` in `{0,1}^k`: one pass over the rows
/// `h` the point's boolean prefix selects.
fn claim_buckets(evals: &[M31], point: &[QM31], k: usize) -> Vec<QM31> {
    let high = point.len() - k;
    let width = 1usize << k;
    let (bits, pre) = boolean_prefix(&point[..high]);
    let free = &point[pre..high];
    let first_row = bits << free.len();
    if free.is_empty() {
        let row = &evals[first_row * width..(first_row + 1) * width];
        return row.iter().map(|&v| v.into()).collect();
    }
    let eq = eq_evals(free);
    let rows = &evals[first_row * width..(first_row + eq.len()) * width];
    if width < N_LANES {
        let mut e = vec![QM31::zero(); width];
        for (row, &w) in rows.chunks_exact(width).zip(&eq) {
            for (acc, &v) in e.iter_mut().zip(row) {
                *acc += w * v;
            }
        }
        return e;
    }
    let packed = width / N_LANES;
    let sums = rows
        .par_chunks_exact(width)
        .zip(eq.par_iter())
        .with_min_len((TASK_ENTRIES / width).max(1))
        .fold(
            || vec![PackedQM31::zero(); packed],
            |mut acc, (row, &w)| {
                let w = PackedQM31::broadcast(w);
                for (a, chunk) in acc.iter_mut().zip(row.chunks_exact(N_LANES)) {
                    *a += w * load(chunk);
                }
                acc
            },
        )
        .reduce(|| vec![PackedQM31::zero(); packed], add_packed);
    sums.iter().flat_map(|p| p.to_array()).collect()
}

/// One claim during the bucket rounds: its point, its scale times `eq` of its bound
/// coordinates, and its buckets folded over the bound bits.
pub(crate) struct ClaimBuckets<'a> {
    point: &'a [QM31],
    coef: QM31,
    buckets: Vec<QM31>,
}

/// A polynomial's claims during its bucket rounds.
pub(crate) struct LazyPoly<'a> {
    claims: Vec<ClaimBuckets<'a>>,
    /// Challenges of the rounds so far (lowest bit first).
    alphas: Vec<QM31>,
    k: usize,
}

impl<'a> LazyPoly<'a> {
    /// Buckets of `terms = [(p_c, s_c)]` for `k` rounds, one pass per claim.
    pub(crate) fn new(evals: &[M31], terms: &[(&'a [QM31], QM31)], k: usize) -> Self {
        let claims = terms
            .par_iter()
            .map(|&(point, scale)| ClaimBuckets {
                point,
                coef: scale,
                buckets: claim_buckets(evals, point, k),
            })
            .collect();
        Self {
            claims,
            alphas: Vec::with_capacity(k),
            k,
        }
    }

    /// Whether every bucket round has been taken.
    pub(crate) fn finished(&self) -> bool {
        self.alphas.len() == self.k
    }

    /// The next round's sums at `X = 0, 1, 2`.
    pub(crate) fn round_sums(&self) -> [QM31; 3] {
        let u = self.alphas.len();
        self.claims
            .par_iter()
            .with_min_len(16)
            .map(|c| c.round_sums_at(u))
            .reduce(
                || [QM31::zero(); 3],
                |a, b| [a[0] + b[0], a[1] + b[1], a[2] + b[2]],
            )
    }

    /// Binds the next bit to `alpha`.
    pub(crate) fn bind(&mut self, alpha: QM31) {
        let u = self.alphas.len();
        self.claims
            .par_iter_mut()
            .with_min_len(16)
            .for_each(|c| c.fold_at(u, alpha));
        self.alphas.push(alpha);
    }

    /// The tables for the remaining `n - k` variables, bit-reversed (the next variable to
    /// bind is the most significant): the eq-sum table, and the evaluations with the `k` low
    /// bits bound. With no variable left, both have one entry.
    pub(crate) fn tables(&self, evals: &[M31]) -> (SecureTable, SecureTable) {
        let high = evals.len().ilog2() as usize - self.k;
        let terms: Vec<(&[QM31], QM31)> = self
            .claims
            .iter()
            .map(|c| (&c.point[..high], c.coef))
            .collect();
        let mut w = unpacked(&eq_sum_table(high, &terms));
        bit_reverse(&mut w);
        let mut f = fold_low_bits(evals, &self.alphas);
        bit_reverse(&mut f);
        (SecureTable::new(w), SecureTable::new(f))
    }
}

impl ClaimBuckets<'_> {
    /// This claim's sums at `X = 0, 1, 2` in round `u`: bit `u` of `a` is `X`, the bits
    /// below are bound (folded into the buckets and `coef`), the bits above are summed.
    fn round_sums_at(&self, u: usize) -> [QM31; 3] {
        let n = self.point.len();
        let x = n - 1 - u;
        let k = self.buckets.len().ilog2() as usize + u;
        let px = self.point[x];
        let weights = eq_evals(&self.point[n - k..x]);
        let mut t = [QM31::zero(); 2];
        for (pair, &w) in self.buckets.chunks_exact(2).zip(&weights) {
            t[0] += w * pair[0];
            t[1] += w * pair[1];
        }
        let t2 = t[1] + t[1] - t[0];
        let c = self.coef;
        [
            c * (QM31::one() - px) * t[0],
            c * px * t[1],
            c * (px + px + px - QM31::one()) * t2,
        ]
    }

    /// Binds bit `u` to `alpha`.
    fn fold_at(&mut self, u: usize, alpha: QM31) {
        let px = self.point[self.point.len() - 1 - u];
        self.coef *= eq_eval(&[px], &[alpha]);
        self.buckets = self
            .buckets
            .chunks_exact(2)
            .map(|p| p[0] + alpha * (p[1] - p[0]))
            .collect();
    }
}

/// `g(h) = Σ_a eq(α', a) f(h, a)`, `a` the low `alphas.len()` bits with `alphas[0]` bound to
/// the lowest: one pass over the evaluations.
fn fold_low_bits(evals: &[M31], alphas: &[QM31]) -> Vec<QM31> {
    let k = alphas.len();
    let reversed: Vec<QM31> = alphas.iter().rev().copied().collect();
    let weights = eq_evals(&reversed);
    let width = 1usize << k;
    if width < N_LANES {
        return evals
            .chunks_exact(width)
            .map(|row| weights.iter().zip(row).map(|(&w, &v)| w * v).sum())
            .collect();
    }
    let packed = pack_secure(&weights);
    evals
        .par_chunks_exact(width)
        .with_min_len((TASK_ENTRIES / width).max(1))
        .map(|row| {
            row.chunks_exact(N_LANES)
                .zip(&packed)
                .fold(PackedQM31::zero(), |acc, (chunk, &w)| acc + w * load(chunk))
                .pointwise_sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use num_traits::{One, Zero};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use stwo::core::channel::{Blake2sChannel, Channel};
    use stwo::core::fields::m31::{M31, P};
    use stwo::core::fields::qm31::QM31;
    use sumcheck::eval_mle_base;
    use sumcheck::mle::add_eq_evals_scaled;

    use crate::batch::{interpolate3, prove_batch_with};
    use crate::proof::Claim;
    use crate::{commit, CommittedPoly, PcsConfig};

    fn felt(rng: &mut StdRng) -> QM31 {
        QM31::from_m31_array(std::array::from_fn(|_| M31::from(rng.gen_range(0..P))))
    }

    /// Claims at random points and on slices of every size (boolean prefixes, as packing
    /// lifts), down to single entries.
    fn claims(rng: &mut StdRng, evals: &[M31]) -> Vec<Claim> {
        let n = evals.len().ilog2() as usize;
        (0..=n)
            .map(|prefix| {
                let point: Vec<QM31> = (0..n)
                    .map(|v| {
                        if v < prefix {
                            QM31::from(M31::from(rng.gen_range(0..2u32)))
                        } else {
                            felt(rng)
                        }
                    })
                    .collect();
                let value = eval_mle_base(evals, &point);
                Claim { point, value }
            })
            .collect()
    }

    /// The batching sumcheck with full tables, binding the last variable first: the
    /// definition the bucket rounds must reproduce.
    fn reference(
        polys: &[&CommittedPoly],
        claims: &[Vec<Claim>],
        n_rounds: usize,
        channel: &mut Blake2sChannel,
    ) -> (Vec<Vec<QM31>>, Vec<QM31>) {
        let lambda = channel.draw_secure_felt();
        let mut weight = QM31::one();
        let mut tables: Vec<(Vec<QM31>, Vec<QM31>)> = Vec::new();
        for (p, cs) in polys.iter().zip(claims) {
            let mut w = vec![QM31::zero(); 1 << p.n_variables];
            for c in cs {
                add_eq_evals_scaled(&mut w, &c.point, weight);
                weight *= lambda;
            }
            tables.push((w, p.evals().iter().map(|&v| v.into()).collect()));
        }
        let mut rounds = Vec::new();
        for t in 0..n_rounds {
            let mut vals = [QM31::zero(); 3];
            for (w, f) in &tables {
                if w.len() == 1 {
                    // Constant in this variable: half its remaining sum on each side.
                    let c = w[0] * f[0] * QM31::from(M31::from(1u32 << (n_rounds - t - 1)));
                    vals.iter_mut().for_each(|v| *v += c);
                    continue;
                }
                // Constant in the variables bound after this polynomial's.
                let scale =
                    QM31::from(M31::from(1u32 << (n_rounds - w.len().ilog2() as usize - t)));
                for i in 0..w.len() / 2 {
                    let (w0, w1, f0, f1) = (w[2 * i], w[2 * i + 1], f[2 * i], f[2 * i + 1]);
                    vals[0] += scale * w0 * f0;
                    vals[1] += scale * w1 * f1;
                    vals[2] += scale * (w1 + w1 - w0) * (f1 + f1 - f0);
                }
            }
            let coeffs = interpolate3(vals);
            channel.mix_felts(&coeffs);
            let alpha = channel.draw_secure_felt();
            for (w, f) in &mut tables {
                if w.len() > 1 {
                    for v in [&mut *w, &mut *f] {
                        *v = v
                            .chunks_exact(2)
                            .map(|p| p[0] + alpha * (p[1] - p[0]))
                            .collect();
                    }
                }
            }
            rounds.push(coeffs.to_vec());
        }
        let evals: Vec<QM31> = tables.iter().map(|(_, f)| f[0]).collect();
        channel.mix_felts(&evals);
        (rounds, evals)
    }

    #[test]
    fn bucket_rounds_match_full_tables() {
        let mut rng = StdRng::seed_from_u64(5);
        let config = PcsConfig::default();
        let polys: Vec<_> = [12usize, 9, 5, 4, 2, 0]
            .iter()
            .map(|&n| {
                let evals = (0..1 << n)
                    .map(|_| M31::from(rng.gen_range(0..P)))
                    .collect();
                commit(evals, &config)
            })
            .collect();
        let claims: Vec<Vec<Claim>> = polys.iter().map(|p| claims(&mut rng, p.evals())).collect();
        let refs: Vec<_> = polys.iter().collect();
        let mut channel = Blake2sChannel::default();
        let (rounds, evals) = reference(&refs, &claims, 12, &mut channel);
        let want = channel.draw_secure_felt();
        for k in [None, Some(0), Some(1), Some(4), Some(7), Some(12)] {
            let mut channel = Blake2sChannel::default();
            let (proof, rho) = prove_batch_with(&refs, &claims, 12, &mut channel, k);
            let got: Vec<Vec<QM31>> = proof
                .sumcheck
                .round_polys
                .iter()
                .map(|p| p.0.clone())
                .collect();
            assert_eq!(got, rounds, "rounds, k = {k:?}");
            assert_eq!(proof.evals, evals, "evaluations, k = {k:?}");
            assert_eq!(channel.draw_secure_felt(), want, "transcript, k = {k:?}");
            // The final evaluations are the polynomials' values at their part of `rho`.
            for (j, p) in polys.iter().enumerate() {
                let n = p.n_variables;
                assert_eq!(proof.evals[j], eval_mle_base(p.evals(), &rho[12 - n..]));
            }
        }
        assert_eq!(super::lazy_rounds_for(20, 600), 6);
        assert_eq!(super::lazy_rounds_for(26, 4), super::MAX_LAZY_ROUNDS);
        assert_eq!(super::lazy_rounds_for(2, 100), 2);
    }
}
