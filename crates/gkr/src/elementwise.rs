//! Element-wise layers: `Add`, broadcast `AddBias` and `Mul`.
//!
//! `Add` and `AddBias` are linear, so a claim on the output splits into claims on the operands
//! at the same point once the prover names one operand's value. `Mul` needs a degree-3
//! sumcheck of `eq(r, x) L(x) R(x)`.

#[cfg(feature = "prover")]
use num_traits::One;
use serde::{Deserialize, Serialize};
use stwo::core::channel::{Blake2sChannel, Channel};
#[cfg(feature = "prover")]
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
#[cfg(feature = "prover")]
use sumcheck::base_round::prove_product_base;
#[cfg(feature = "prover")]
use sumcheck::eval_mle_base;
#[cfg(feature = "prover")]
use sumcheck::oracle::prove_product;
#[cfg(feature = "prover")]
use sumcheck::simd::eq_evals_packed;
use sumcheck::{eq_eval, SumcheckProof};

#[cfg(feature = "prover")]
use crate::claim::eq_table;
use crate::claim::Claim;
use crate::error::GkrError;

/// Prover message of `Add`: the left operand's value at the claim point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddProof {
    #[serde(with = "sumcheck::felt::qm31")]
    pub lhs_eval: QM31,
}

/// Splits `(L + R)(r) = v` into `L(r)` and `R(r)`.
#[cfg(feature = "prover")]
pub fn prove_add(
    lhs: &[M31],
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (AddProof, Claim, Claim) {
    let lhs_eval = eval_mle_base(lhs, &claim.point);
    channel.mix_felts(&[lhs_eval]);
    (
        AddProof { lhs_eval },
        Claim::new(claim.point.clone(), lhs_eval),
        Claim::new(claim.point.clone(), claim.value - lhs_eval),
    )
}

/// Verifier side of [`prove_add`].
pub fn verify_add(proof: &AddProof, claim: &Claim, channel: &mut Blake2sChannel) -> (Claim, Claim) {
    channel.mix_felts(&[proof.lhs_eval]);
    (
        Claim::new(claim.point.clone(), proof.lhs_eval),
        Claim::new(claim.point.clone(), claim.value - proof.lhs_eval),
    )
}

/// Prover message of `AddBias`: the bias value at the column part of the claim point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddBiasProof {
    #[serde(with = "sumcheck::felt::qm31")]
    pub bias_eval: QM31,
}

/// MLE at `r_rows` of the indicator of the first `n_rows` rows (the real, unpadded ones).
pub fn row_mask_eval(n_rows: usize, r_rows: &[QM31]) -> QM31 {
    let n = r_rows.len();
    (0..n_rows)
        .map(|i| eq_eval(&sumcheck::mle::hypercube_point(i, n), r_rows))
        .sum()
}

/// Splits `Y(r_m, r_n) = X(r_m, r_n) + mask(r_m) b(r_n)` (bias broadcast over the `n_rows` real
/// rows; padded rows stay zero) into a claim on `X` and a claim on `b`.
#[cfg(feature = "prover")]
pub fn prove_add_bias(
    bias: &[M31],
    n_rows: usize,
    log_rows: usize,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (AddBiasProof, Claim, Claim) {
    let (r_m, r_n) = claim.point.split_at(log_rows);
    let bias_eval = eval_mle_base(bias, r_n);
    channel.mix_felts(&[bias_eval]);
    let x = claim.value - row_mask_eval(n_rows, r_m) * bias_eval;
    (
        AddBiasProof { bias_eval },
        Claim::new(claim.point.clone(), x),
        Claim::new(r_n.to_vec(), bias_eval),
    )
}

/// Verifier side of [`prove_add_bias`].
pub fn verify_add_bias(
    proof: &AddBiasProof,
    n_rows: usize,
    log_rows: usize,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<(Claim, Claim), GkrError> {
    if claim.point.len() < log_rows {
        return Err(GkrError::PointDimension {
            expected: log_rows,
            got: claim.point.len(),
        });
    }
    let (r_m, r_n) = claim.point.split_at(log_rows);
    channel.mix_felts(&[proof.bias_eval]);
    let x = claim.value - row_mask_eval(n_rows, r_m) * proof.bias_eval;
    Ok((
        Claim::new(claim.point.clone(), x),
        Claim::new(r_n.to_vec(), proof.bias_eval),
    ))
}

/// Prover messages of `Mul`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MulProof {
    pub sumcheck: SumcheckProof,
    #[serde(with = "sumcheck::felt::qm31")]
    pub lhs_eval: QM31,
    #[serde(with = "sumcheck::felt::qm31")]
    pub rhs_eval: QM31,
}

/// Proves `(L * R)(r) = sum_x eq(r, x) L(x) R(x)`; returns claims on `L` and `R` at a new point.
#[cfg(feature = "prover")]
pub fn prove_mul(
    lhs: &[M31],
    rhs: &[M31],
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (MulProof, Claim, Claim) {
    let (sumcheck, rho, finals) = if claim.point.len() >= 5 {
        let eq = eq_evals_packed(&claim.point, QM31::one());
        prove_product_base(claim.value, eq, &[lhs, rhs], channel)
    } else {
        let l: Vec<QM31> = lhs.iter().map(|&x| x.into()).collect();
        let r: Vec<QM31> = rhs.iter().map(|&x| x.into()).collect();
        prove_product(claim.value, vec![eq_table(&claim.point), l, r], channel)
    };
    let (lhs_eval, rhs_eval) = (finals[1], finals[2]);
    channel.mix_felts(&[lhs_eval, rhs_eval]);
    (
        MulProof {
            sumcheck,
            lhs_eval,
            rhs_eval,
        },
        Claim::new(rho.clone(), lhs_eval),
        Claim::new(rho, rhs_eval),
    )
}

/// Verifier side of [`prove_mul`].
pub fn verify_mul(
    proof: &MulProof,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<(Claim, Claim), GkrError> {
    let n = claim.point.len();
    let (rho, final_claim) = sumcheck::verify(claim.value, &proof.sumcheck, n, 3, channel)
        .map_err(|source| GkrError::Sumcheck {
            layer: "mul",
            source,
        })?;
    if eq_eval(&claim.point, &rho) * proof.lhs_eval * proof.rhs_eval != final_claim {
        return Err(GkrError::FinalEvalMismatch { layer: "mul" });
    }
    channel.mix_felts(&[proof.lhs_eval, proof.rhs_eval]);
    Ok((
        Claim::new(rho.clone(), proof.lhs_eval),
        Claim::new(rho, proof.rhs_eval),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_traits::One;
    use rand::{Rng, SeedableRng};

    #[test]
    fn mul_works_and_forgery_fails() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let l: Vec<M31> = (0..32)
            .map(|_| M31::from(rng.gen_range(0..1000u32)))
            .collect();
        let r: Vec<M31> = (0..32)
            .map(|_| M31::from(rng.gen_range(0..1000u32)))
            .collect();
        let prod: Vec<M31> = l.iter().zip(&r).map(|(a, b)| *a * *b).collect();
        let pt: Vec<QM31> = (0..5)
            .map(|i| QM31::from_u32_unchecked(i * 3 + 1, 7, 0, 1))
            .collect();
        let claim = Claim::new(pt.clone(), eval_mle_base(&prod, &pt));
        let mut pc = Blake2sChannel::default();
        let (proof, cl, cr) = prove_mul(&l, &r, &claim, &mut pc);
        assert_eq!(eval_mle_base(&l, &cl.point), cl.value);
        assert_eq!(eval_mle_base(&r, &cr.point), cr.value);
        let mut vc = Blake2sChannel::default();
        assert_eq!(verify_mul(&proof, &claim, &mut vc).unwrap(), (cl, cr));

        let mut bad = proof.clone();
        bad.rhs_eval += QM31::one();
        let mut vc = Blake2sChannel::default();
        assert!(verify_mul(&bad, &claim, &mut vc).is_err());
    }

    #[test]
    fn add_bias_split_is_consistent() {
        // Y = X + b broadcast over 3 real rows of a 4-row padded table.
        let x: Vec<M31> = (0..16)
            .map(|i| M31::from(if i < 12 { i * 5 + 1 } else { 0 }))
            .collect();
        let b: Vec<M31> = (0..4).map(|i| M31::from(100 + i)).collect();
        let y: Vec<M31> = (0..16)
            .map(|i| {
                if i < 12 {
                    x[i] + b[i % 4]
                } else {
                    M31::from(0)
                }
            })
            .collect();
        let pt: Vec<QM31> = (0..4)
            .map(|i| QM31::from_u32_unchecked(i + 2, 1, 5, 9))
            .collect();
        let claim = Claim::new(pt.clone(), eval_mle_base(&y, &pt));
        let mut pc = Blake2sChannel::default();
        let (_, cx, cb) = prove_add_bias(&b, 3, 2, &claim, &mut pc);
        assert_eq!(eval_mle_base(&x, &cx.point), cx.value);
        assert_eq!(eval_mle_base(&b, &cb.point), cb.value);
    }
}
