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
    let lambda = channel.draw_secure_felt();
    let mut weight = QM31::one();
    let mut w_tables: Vec<SecureTable> = Vec::with_capacity(polys.len());
    let mut term_claims: Vec<QM31> = Vec::with_capacity(polys.len());
    for (p, cs) in polys.iter().zip(claims) {
        let mut cl = QM31::zero();
        let mut terms = Vec::with_capacity(cs.len());
        for c in cs {
            terms.push((&c.point[..], weight));
            cl += weight * c.value;
            weight *= lambda;
        }
        w_tables.push(eq_sum_table(p.n_variables, &terms));
        term_claims.push(cl * pow2(n_rounds - p.n_variables));
    }
    let mut f_tables: Vec<Option<SecureTable>> = polys.iter().map(|_| None).collect();
    let mut round_polys = Vec::with_capacity(n_rounds);
    let mut rho = Vec::with_capacity(n_rounds);
    let half = M31::from(2u32).inverse();
    for t in 0..n_rounds {
        let remaining = n_rounds - t;
        let mut vals = [QM31::zero(); 3];
        let mut term_vals = Vec::with_capacity(polys.len());
        for (j, p) in polys.iter().enumerate() {
            let v = if p.n_variables >= remaining {
                let f = match &f_tables[j] {
                    Some(f) => PolyTable::Secure(f),
                    None => PolyTable::Base(&p.evals),
                };
                product_evals(&w_tables[j], f)
            } else {
                let c = term_claims[j] * half;
                [c, c, c]
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
            if p.n_variables >= remaining {
                w_tables[j].fold(alpha);
                f_tables[j] = Some(match f_tables[j].take() {
                    Some(mut f) => {
                        f.fold(alpha);
                        f
                    }
                    None => fold_base(&p.evals, alpha),
                });
                term_claims[j] = interp_eval(interpolate3(term_vals[j]), alpha);
            } else {
                term_claims[j] *= half;
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
