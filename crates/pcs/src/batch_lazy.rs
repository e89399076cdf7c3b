//! The first rounds of the phase-1 batching sumcheck without its tables.
//!
//! For a large polynomial the eq-sum table `w = Σ_c s_c eq(p_c, ·)` (16 bytes per entry) and
//! the first folded evaluations would be the prover's largest allocations. In the first `k`
//! rounds of such a polynomial ([`lazy_rounds_for`]) they are never built. With `α` the challenges
//! of its earlier rounds (`u` of them), round `u`'s sums at `X = 0, 1, 2` are
//!
//! `S(X) = Σ_c s_c eq(p_c[..u], α) eq(p_c[u], X) T_c(X)`,
//! `T_c(X) = Σ_b eq(p_c[u+1..], b) f_u(X, b) = f(α, X, p_c[u+1..])`,
//!
//! each `T_c` one multilinear evaluation of the committed base-field evaluations (linear in
//! `X`, so `T_c(2) = 2 T_c(1) - T_c(0)`). All of them come from one pass: for each claim, the
//! `2^k` values `f(a, p_c[k..])` (its buckets), from which every lazy
//! round's `T_c` is a small combination. A boolean prefix of `p_c` (a claim lifted from one
//! slice of a packed polynomial) confines each bucket to one sub-slice, and `eq(r, ·)` over a
//! slice is a product of two square-root-sized tables, so memory stays small. After the lazy
//! rounds the tables are built at `2^-k` of the size: `w` from the claims with the
//! bound coordinates folded into their scales, `f` by folding all bound variables at once.
//! The transcript is the same as the tabled prover's (test `lazy_rounds_match_tables`).

use num_traits::{One, Zero};
use rayon::prelude::*;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::prover::backend::simd::m31::{PackedM31, N_LANES};
use stwo::prover::backend::simd::qm31::PackedQM31;
use sumcheck::mle::{eq_eval, eq_evals};
use sumcheck::simd::pack_secure;

use crate::batch_tables::{eq_sum_table, SecureTable};

/// Most rounds computed lazily for one polynomial (`2^MAX_LAZY_ROUNDS` buckets per claim).
pub(crate) const MAX_LAZY_ROUNDS: usize = 8;
/// Polynomials with at least this many variables take the lazy rounds.
pub(crate) const LAZY_MIN_VARS: usize = 16;

/// Packed vectors per parallel task.
const TASK: usize = 1 << 8;

/// The number `k` of lazy rounds (at most [`MAX_LAZY_ROUNDS`]) for a polynomial of `n`
/// variables with these claims, minimising the estimated memory traffic in base-field
/// elements: the bucket pass reads each claim's slice (`2^(n - prefix)` entries, `prefix` its
/// boolean coordinates) `2^min(k, prefix)` times, the fold reads the polynomial once, and the
/// two secure tables of `2^(n - k)` entries, written and then read as they halve, cost about 16
/// base elements per entry. Claims on the whole polynomial (no prefix) get many lazy rounds
/// and tiny tables; many claims on small slices get few.
pub(crate) fn lazy_rounds_for(n: usize, terms: &[(&[QM31], QM31)]) -> usize {
    let prefixes: Vec<usize> = terms
        .iter()
        .map(|&(p, _)| boolean_prefix(p).1.min(n))
        .collect();
    let cost = |k: usize| -> u128 {
        let buckets: u128 = prefixes
            .iter()
            .map(|&pre| 1u128 << (n - pre + k.min(pre)))
            .sum();
        buckets + (1u128 << n) + (16u128 << (n - k))
    };
    (1..=MAX_LAZY_ROUNDS.min(n))
        .min_by_key(|&k| cost(k))
        .unwrap_or(0)
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

/// `Σ_b eq(r, b) f[b]` with `eq(r, ·)` split into `(hi, lo)` tables (`lo` packed).
struct SliceEq {
    hi: Vec<QM31>,
    lo: Option<Vec<PackedQM31>>,
    lo_scalar: Vec<QM31>,
}

impl SliceEq {
    fn new(r: &[QM31]) -> Self {
        if r.len() < 8 {
            return Self {
                hi: vec![QM31::one()],
                lo: None,
                lo_scalar: eq_evals(r),
            };
        }
        let (hi, lo) = r.split_at(r.len() - r.len().div_ceil(2));
        Self {
            hi: eq_evals(hi),
            lo: Some(pack_secure(&eq_evals(lo))),
            lo_scalar: vec![],
        }
    }

    /// `Σ_b eq(r, b) f[b]` for a slice `f` of `2^|r|` entries.
    fn eval(&self, f: &[M31]) -> QM31 {
        let Some(lo) = &self.lo else {
            return self.lo_scalar.iter().zip(f).map(|(&e, &v)| e * v).sum();
        };
        let row = lo.len() * N_LANES;
        let sum = f
            .par_chunks_exact(row)
            .zip(self.hi.par_iter())
            .with_min_len(TASK.div_ceil(lo.len()).max(1))
            .map(|(f_row, &h)| {
                let acc = f_row
                    .chunks_exact(N_LANES)
                    .zip(lo)
                    .fold(PackedQM31::zero(), |acc, (v, &e)| acc + e * load(v));
                acc * PackedQM31::broadcast(h)
            })
            .reduce(PackedQM31::zero, |a, b| a + b);
        sum.pointwise_sum()
    }
}

fn load(chunk: &[M31]) -> PackedM31 {
    let mut lanes = [M31::from_u32_unchecked(0); N_LANES];
    lanes.copy_from_slice(chunk);
    PackedM31::from_array(lanes)
}

/// Each claim's `2^k` bucket values `E_c[a] = f(a, p_c[k..])`, `a` in `{0,1}^k`: one pass over
/// the `2^k` sub-blocks a claim's slice has under the first `k` variables. Every lazy round
/// is then computed from the buckets alone, with no further pass over the evaluations.
pub(crate) fn lazy_buckets(evals: &[M31], terms: &[(&[QM31], QM31)], k: usize) -> Vec<Vec<QM31>> {
    let n = evals.len().ilog2() as usize;
    let block = n - k;
    terms
        .par_iter()
        .map(|&(point, _)| {
            let (bits, kk) = boolean_prefix(&point[k..]);
            let r = &point[k + kk..];
            let slice_eq = SliceEq::new(r);
            (0..1usize << k)
                .map(|a| {
                    let start = (a << block) + (bits << r.len());
                    slice_eq.eval(&evals[start..start + (1 << r.len())])
                })
                .collect()
        })
        .collect()
}

/// Round `alphas.len()`'s sums at `X = 0, 1, 2` of `Σ_c s_c eq(p_c, b) f(b)` after binding the
/// first variables to `alphas`, for the claims `terms = [(p_c, s_c)]`, from their buckets
/// ([`lazy_buckets`] with `k > alphas.len()`):
/// `f(alphas, X, p_c[u+1..]) = Σ_{a, x, c'} eq(alphas, a) eq(X, x) eq(p_c[u+1..k], c') E_c[a, x, c']`.
pub(crate) fn lazy_round_sums(
    buckets: &[Vec<QM31>],
    terms: &[(&[QM31], QM31)],
    alphas: &[QM31],
) -> [QM31; 3] {
    let u = alphas.len();
    let weights_a = eq_evals(alphas);
    terms
        .par_iter()
        .zip(buckets)
        .with_min_len(64)
        .map(|(&(point, scale), e)| {
            let k = e.len().ilog2() as usize;
            let coef = scale * eq_eval(&point[..u], alphas);
            let weights_rest = eq_evals(&point[u + 1..k]);
            let rest = weights_rest.len();
            let mut t = [QM31::zero(); 2];
            for (a, &wa) in weights_a.iter().enumerate() {
                for (x, tx) in t.iter_mut().enumerate() {
                    let base = ((a << 1) | x) * rest;
                    let inner: QM31 = weights_rest
                        .iter()
                        .zip(&e[base..base + rest])
                        .map(|(&w, &v)| w * v)
                        .sum();
                    *tx += wa * inner;
                }
            }
            let p = point[u];
            let t2 = t[1] + t[1] - t[0];
            [
                coef * (QM31::one() - p) * t[0],
                coef * p * t[1],
                coef * (p + p + p - QM31::one()) * t2,
            ]
        })
        .reduce(
            || [QM31::zero(); 3],
            |a, b| [a[0] + b[0], a[1] + b[1], a[2] + b[2]],
        )
}

/// The eq-sum table after the lazy rounds: each claim's bound coordinates folded into its
/// scale.
pub(crate) fn bound_eq_table(terms: &[(&[QM31], QM31)], alphas: &[QM31], n: usize) -> SecureTable {
    let u = alphas.len();
    let bound: Vec<(&[QM31], QM31)> = terms
        .iter()
        .map(|&(p, s)| (&p[u..], s * eq_eval(&p[..u], alphas)))
        .collect();
    eq_sum_table(n - u, &bound)
}

/// `f_u(b) = Σ_a eq(alphas, a) f(a, b)`: all of `alphas` bound in one pass.
pub(crate) fn fold_base_many(evals: &[M31], alphas: &[QM31]) -> SecureTable {
    let weights = eq_evals(alphas);
    let len = evals.len() >> alphas.len();
    if len < 2 * N_LANES {
        let out = (0..len)
            .map(|i| {
                weights
                    .iter()
                    .enumerate()
                    .map(|(a, &w)| w * evals[a * len + i])
                    .sum()
            })
            .collect();
        return SecureTable::new(out);
    }
    let packed_w: Vec<PackedQM31> = weights.iter().map(|&w| PackedQM31::broadcast(w)).collect();
    let out = (0..len / N_LANES)
        .into_par_iter()
        .with_min_len(TASK)
        .map(|i| {
            packed_w
                .iter()
                .enumerate()
                .fold(PackedQM31::zero(), |acc, (a, &w)| {
                    let at = a * len + i * N_LANES;
                    acc + w * load(&evals[at..at + N_LANES])
                })
        })
        .collect();
    SecureTable::Packed(out)
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

    use crate::batch::prove_batch_with;
    use crate::proof::Claim;
    use crate::{commit, PcsConfig};

    fn felt(rng: &mut StdRng) -> QM31 {
        QM31::from_m31_array(std::array::from_fn(|_| M31::from(rng.gen_range(0..P))))
    }

    /// Claims at random points, and claims on slices (boolean prefixes, as packing lifts).
    fn claims(rng: &mut StdRng, evals: &[M31]) -> Vec<Claim> {
        let n = evals.len().ilog2() as usize;
        (0..4)
            .map(|i| {
                let prefix = if i == 0 { 0 } else { (i * 2).min(n) };
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

    fn terms_of(claims: &[Claim]) -> Vec<(&[QM31], QM31)> {
        claims.iter().map(|c| (&c.point[..], QM31::one())).collect()
    }

    #[test]
    fn lazy_rounds_match_tables() {
        let mut rng = StdRng::seed_from_u64(5);
        let config = PcsConfig::default();
        let polys: Vec<_> = [12usize, 9, 4, 2, 0]
            .iter()
            .map(|&n| {
                let evals = (0..1 << n)
                    .map(|_| M31::from(rng.gen_range(0..P)))
                    .collect();
                commit(evals, &config)
            })
            .collect();
        let mut claims: Vec<Vec<Claim>> =
            polys.iter().map(|p| claims(&mut rng, p.evals())).collect();
        // Claims on the whole first polynomial only: it takes the most lazy rounds.
        claims[0].retain(|c| {
            !c.point
                .iter()
                .any(|&v| v == QM31::zero() || v == QM31::one())
        });
        assert_eq!(
            super::lazy_rounds_for(12, &terms_of(&claims[0])),
            super::MAX_LAZY_ROUNDS
        );
        assert!(super::lazy_rounds_for(9, &terms_of(&claims[1])) < super::MAX_LAZY_ROUNDS);
        let refs: Vec<_> = polys.iter().collect();
        let run = |lazy_min_vars| {
            let mut channel = Blake2sChannel::default();
            let out = prove_batch_with(&refs, &claims, 12, &mut channel, lazy_min_vars);
            (out, channel.draw_secure_felt())
        };
        let tabled = run(usize::MAX);
        for min_vars in [0, 4, 9] {
            assert_eq!(run(min_vars), tabled, "lazy from {min_vars} variables");
        }
        // The final evaluations are the polynomials' values at their part of `rho`.
        let ((proof, rho), _) = tabled;
        for (j, p) in polys.iter().enumerate() {
            let n = p.n_variables;
            assert_eq!(proof.evals[j], eval_mle_base(p.evals(), &rho[12 - n..]));
        }
    }
}
