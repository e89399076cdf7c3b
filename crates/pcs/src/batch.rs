//! Phase 1 prover: a batching sumcheck for
//! `sum_b sum_j sum_i lambda^g(j,i) eq(r_ji, b_j) f_j(b_j)` over `N` variables, where `b_j` is
//! the suffix of `b` of length `n_j` (smaller polynomials are bound in the last rounds, STWO's
//! `prove_batch` semantics: their term is constant in the leading variables, so its claim is
//! scaled by `2^(N - n_j)`). Ends with the prover sending `f_j(rho_j)`.

use num_traits::{One, Zero};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use sumcheck::SumcheckProof;

use crate::batch_lazy::{
    bound_eq_table, fold_base_many, lazy_buckets, lazy_round_sums, lazy_rounds_for, LAZY_MIN_VARS,
};
use crate::batch_tables::{eq_sum_table, fold_base, product_evals, PolyTable, SecureTable};
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
    prove_batch_with(polys, claims, n_rounds, channel, LAZY_MIN_VARS)
}

/// [`prove_batch`] where polynomials of at least `lazy_min_vars` variables take their first
/// rounds without tables (`batch_lazy`).
pub(crate) fn prove_batch_with(
    polys: &[&CommittedPoly],
    claims: &[Vec<Claim>],
    n_rounds: usize,
    channel: &mut Blake2sChannel,
    lazy_min_vars: usize,
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
    // Rounds each polynomial takes without tables, and the challenges of its rounds so far.
    let lazy: Vec<usize> = polys
        .iter()
        .zip(&terms)
        .map(|(p, t)| {
            if p.n_variables >= lazy_min_vars {
                lazy_rounds_for(p.n_variables, t)
            } else {
                0
            }
        })
        .collect();
    // Bucket values of the lazy polynomials' claims (one pass over each).
    let buckets: Vec<Vec<Vec<QM31>>> = polys
        .iter()
        .zip(&terms)
        .zip(&lazy)
        .map(|((p, t), &l)| {
            if l > 0 {
                lazy_buckets(&p.evals, t, l)
            } else {
                Vec::new()
            }
        })
        .collect();
    let mut bound: Vec<Vec<QM31>> = polys.iter().map(|_| Vec::new()).collect();
    let mut w_tables: Vec<Option<SecureTable>> = polys
        .iter()
        .zip(&terms)
        .zip(&lazy)
        .map(|((p, t), &l)| (l == 0).then(|| eq_sum_table(p.n_variables, t)))
        .collect();
    let mut f_tables: Vec<Option<SecureTable>> = polys.iter().map(|_| None).collect();
    let mut round_polys = Vec::with_capacity(n_rounds);
    let mut rho = Vec::with_capacity(n_rounds);
    let half = M31::from(2u32).inverse();
    for t in 0..n_rounds {
        let remaining = n_rounds - t;
        let mut vals = [QM31::zero(); 3];
        let mut term_vals = Vec::with_capacity(polys.len());
        for (j, p) in polys.iter().enumerate() {
            let v = if p.n_variables < remaining {
                let c = term_claims[j] * half;
                [c, c, c]
            } else if let Some(w) = &w_tables[j] {
                let f = match &f_tables[j] {
                    Some(f) => PolyTable::Secure(f),
                    None => PolyTable::Base(&p.evals),
                };
                product_evals(w, f)
            } else {
                lazy_round_sums(&buckets[j], &terms[j], &bound[j])
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
            if p.n_variables < remaining {
                term_claims[j] *= half;
                continue;
            }
            term_claims[j] = interp_eval(interpolate3(term_vals[j]), alpha);
            if let Some(w) = &mut w_tables[j] {
                w.fold(alpha);
                f_tables[j] = Some(match f_tables[j].take() {
                    Some(mut f) => {
                        f.fold(alpha);
                        f
                    }
                    None => fold_base(&p.evals, alpha),
                });
            } else {
                bound[j].push(alpha);
                if bound[j].len() == lazy[j] {
                    w_tables[j] = Some(bound_eq_table(&terms[j], &bound[j], p.n_variables));
                    f_tables[j] = Some(fold_base_many(&p.evals, &bound[j]));
                }
            }
        }
        round_polys.push(coeffs.to_vec());
        rho.push(alpha);
    }
    let evals: Vec<QM31> = polys
        .iter()
        .zip(&f_tables)
        .map(|(p, f)| match f {
            Some(f) => f.first(),
            None => p.evals[0].into(),
        })
        .collect();
    channel.mix_felts(&evals);
    (
        BatchProof {
            sumcheck: SumcheckProof { round_polys },
            evals,
        },
        rho,
    )
}

fn interp_eval(c: [QM31; 3], x: QM31) -> QM31 {
    c[0] + x * (c[1] + x * c[2])
}
