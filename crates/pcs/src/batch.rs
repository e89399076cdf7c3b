//! Phase 1 prover: a batching sumcheck for
//! `sum_b sum_j sum_i lambda^g(j,i) eq(r_ji, b_j) f_j(b_j)` over `N` variables, where `b_j` is
//! the suffix of `b` of length `n_j` (a smaller polynomial's term is constant in the leading
//! variables, so its claim is scaled by `2^(N - n_j)`). Round `t` binds variable `N - 1 - t`:
//! the last variables first, so that every polynomial is active in the first `n_j` rounds and
//! a claim on one slice of a packed polynomial binds the variables inside its slice first
//! (`batch_lazy`). Ends with the prover sending `f_j(rho_j)`.

use num_traits::{One, Zero};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use sumcheck::{RoundPoly, SumcheckProof};

use rayon::prelude::*;

use crate::batch_lazy::{lazy_rounds_for, LazyPoly};
use crate::batch_tables::{product_evals, SecureTable};
use crate::encode::CommittedPoly;
use crate::fold::pow2;
use crate::proof::{BatchProof, Claim};

/// Coefficients of the degree-2 polynomial with values `v` at 0, 1, 2.
pub(crate) fn interpolate3(v: [QM31; 3]) -> [QM31; 3] {
    let inv2 = M31::from(2u32).inverse();
    let c2 = (v[2] - v[1] - v[1] + v[0]) * inv2;
    let c1 = v[1] - v[0] - c2;
    [v[0], c1, c2]
}

/// Runs phase 1. Returns the proof, the common point `rho` (length `N`) and `f_j(rho_j)`.
pub(crate) fn prove_batch(
    polys: &[&CommittedPoly],
    claims: &[Vec<Claim>],
    n_rounds: usize,
    channel: &mut Blake2sChannel,
) -> (BatchProof, Vec<QM31>) {
    prove_batch_with(polys, claims, n_rounds, channel, None)
}

/// A polynomial's state in phase 1.
enum Stage<'a> {
    /// Its first rounds, from per-claim buckets.
    Buckets(LazyPoly<'a>),
    /// The eq-sum table and the folded evaluations, bit-reversed.
    Tables(SecureTable, SecureTable),
}

/// [`prove_batch`], with every polynomial's number of bucket rounds forced to
/// `min(k, n_j)` when `bucket_rounds` is `Some(k)` (tests: the transcript does not depend on it).
pub(crate) fn prove_batch_with(
    polys: &[&CommittedPoly],
    claims: &[Vec<Claim>],
    n_rounds: usize,
    channel: &mut Blake2sChannel,
    bucket_rounds: Option<usize>,
) -> (BatchProof, Vec<QM31>) {
    let lambda = channel.draw_secure_felt();
    let mut weight = QM31::one();
    let mut terms: Vec<Vec<(&[QM31], QM31)>> = Vec::with_capacity(polys.len());
    let mut term_claims: Vec<QM31> = Vec::with_capacity(polys.len());
    for (p, cs) in polys.iter().zip(claims) {
        let mut cl = QM31::zero();
        let mut t = Vec::with_capacity(cs.len());
        for c in cs {
            t.push((&c.point[..], weight));
            cl += weight * c.value;
            weight *= lambda;
        }
        terms.push(t);
        term_claims.push(cl * pow2(n_rounds - p.n_variables));
    }
    let mut stages: Vec<Stage<'_>> = polys
        .par_iter()
        .zip(&terms)
        .map(|(p, t)| {
            let n = p.n_variables;
            let k = bucket_rounds.map_or_else(|| lazy_rounds_for(n, t.len()), |k| k.min(n));
            Stage::Buckets(LazyPoly::new(&p.evals, t, k))
        })
        .collect();
    // A polynomial whose bucket rounds are all its rounds has its tables (one entry) now.
    for (stage, p) in stages.iter_mut().zip(polys) {
        if let Stage::Buckets(lazy) = stage {
            if lazy.finished() {
                let (w, f) = lazy.tables(&p.evals);
                *stage = Stage::Tables(w, f);
            }
        }
    }
    let mut round_polys = Vec::with_capacity(n_rounds);
    let mut challenges = Vec::with_capacity(n_rounds);
    let half = M31::from(2u32).inverse();
    for t in 0..n_rounds {
        let mut vals = [QM31::zero(); 3];
        let mut term_vals = Vec::with_capacity(polys.len());
        for (j, p) in polys.iter().enumerate() {
            let v = if t >= p.n_variables {
                let c = term_claims[j] * half;
                [c, c, c]
            } else {
                // The term is constant in the `N - n_j` variables bound after these rounds.
                let v = match &stages[j] {
                    Stage::Buckets(lazy) => lazy.round_sums(),
                    Stage::Tables(w, f) => product_evals(w, f),
                };
                v.map(|x| x * pow2(n_rounds - p.n_variables))
            };
            term_vals.push(v);
            for k in 0..3 {
                vals[k] += v[k];
            }
        }
        let coeffs = interpolate3(vals);
        channel.mix_felts(&coeffs);
        let alpha = channel.draw_secure_felt();
        for (j, p) in polys.iter().enumerate() {
            if t >= p.n_variables {
                term_claims[j] *= half;
                continue;
            }
            term_claims[j] = interp_eval(interpolate3(term_vals[j]), alpha);
            match &mut stages[j] {
                Stage::Buckets(lazy) => {
                    lazy.bind(alpha);
                    if lazy.finished() {
                        let (w, f) = lazy.tables(&p.evals);
                        stages[j] = Stage::Tables(w, f);
                    }
                }
                Stage::Tables(w, f) => {
                    w.fold(alpha);
                    f.fold(alpha);
                }
            }
        }
        round_polys.push(RoundPoly::new(coeffs.to_vec()));
        challenges.push(alpha);
    }
    let evals: Vec<QM31> = stages
        .iter()
        .map(|s| match s {
            Stage::Tables(_, f) => f.first(),
            // Unreachable: every polynomial has at least its bucket rounds' worth of rounds.
            Stage::Buckets(_) => QM31::zero(),
        })
        .collect();
    channel.mix_felts(&evals);
    // Round `t` bound variable `N - 1 - t`.
    challenges.reverse();
    (
        BatchProof {
            sumcheck: SumcheckProof { round_polys },
            evals,
        },
        challenges,
    )
}

fn interp_eval(c: [QM31; 3], x: QM31) -> QM31 {
    c[0] + x * (c[1] + x * c[2])
}
