//! Claims about MLEs and the batching of several claims on one table into one.

use num_traits::One;
#[cfg(feature = "prover")]
use num_traits::Zero;
use serde::{Deserialize, Serialize};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::core::fields::FieldExpOps;
#[cfg(feature = "prover")]
use stwo::prover::backend::simd::qm31::PackedQM31;
#[cfg(feature = "prover")]
use sumcheck::base_round::prove_product_base;
#[cfg(feature = "prover")]
use sumcheck::eq_evals;
#[cfg(feature = "prover")]
use sumcheck::oracle::prove_product;
use sumcheck::{eq_eval, SumcheckProof};

use crate::error::GkrError;

/// A claim `MLE(point) = value`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    #[serde(with = "sumcheck::felt::qm31_vec")]
    pub point: Vec<QM31>,
    #[serde(with = "sumcheck::felt::qm31")]
    pub value: QM31,
}

impl Claim {
    pub fn new(point: Vec<QM31>, value: QM31) -> Self {
        Self { point, value }
    }

    /// A claim on `T' = [T; 0]` (the table `T` followed by zeros, so that `T'` has `extra` more
    /// leading, most-significant variables) as a claim on `T`:
    /// `T'(r_top, r) = Π (1 − r_top_i) · T(r)`. `None` if some `r_top_i = 1` (probability
    /// `extra / |QM31|` for a random point), or the point has fewer than `extra` coordinates.
    pub fn strip_zero_padding(&self, extra: usize) -> Option<Claim> {
        let (top, rest) = self.point.split_at_checked(extra)?;
        let factor = top
            .iter()
            .fold(QM31::one(), |acc, &r| acc * (QM31::one() - r));
        if factor == QM31::from(M31::from(0u32)) {
            return None;
        }
        Some(Claim::new(rest.to_vec(), self.value * factor.inverse()))
    }
}

/// Proof that several claims on one table reduce to one claim at a fresh point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CombineProof {
    pub sumcheck: SumcheckProof,
    #[serde(with = "sumcheck::felt::qm31")]
    pub table_eval: QM31,
}

/// Proves `sum_i lambda^i v_i = sum_b (sum_i lambda^i eq(r_i, b)) T(b)` and returns the single
/// claim `T(rho) = table_eval`.
///
/// # Panics
/// Panics if a claim's dimension differs from the table's (a caller bug).
#[cfg(feature = "prover")]
pub fn prove_combine(
    table: &[M31],
    claims: &[Claim],
    channel: &mut Blake2sChannel,
) -> (CombineProof, Claim) {
    let lambda = channel.draw_secure_felt();
    let mut coeff = QM31::one();
    let mut total = QM31::default();
    let mut scaled = Vec::with_capacity(claims.len());
    for c in claims {
        assert_eq!(1 << c.point.len(), table.len(), "claim dimension");
        scaled.push((&c.point[..], coeff));
        total += coeff * c.value;
        coeff *= lambda;
    }
    let (sumcheck, point, finals) = if table.len() >= 32 {
        let mut weights = vec![PackedQM31::zero(); table.len() / 16];
        for &(p, s) in &scaled {
            let eq = sumcheck::simd::eq_evals_packed(p, s);
            weights.iter_mut().zip(eq).for_each(|(w, e)| *w += e);
        }
        prove_product_base(total, weights, &[table], channel)
    } else {
        let mut weights = vec![QM31::default(); table.len()];
        for &(p, s) in &scaled {
            sumcheck::mle::add_eq_evals_scaled(&mut weights, p, s);
        }
        let t: Vec<QM31> = table.iter().map(|&x| x.into()).collect();
        prove_product(total, vec![weights, t], channel)
    };
    let table_eval = finals[1];
    channel.mix_felts(&[table_eval]);
    (
        CombineProof {
            sumcheck,
            table_eval,
        },
        Claim::new(point, table_eval),
    )
}

/// Verifies a [`CombineProof`] for claims on a table of `n_vars` variables.
pub fn verify_combine(
    proof: &CombineProof,
    claims: &[Claim],
    n_vars: usize,
    channel: &mut Blake2sChannel,
) -> Result<Claim, GkrError> {
    let lambda = channel.draw_secure_felt();
    let mut coeff = QM31::one();
    let mut total = QM31::default();
    for c in claims {
        if c.point.len() != n_vars {
            return Err(GkrError::PointDimension {
                expected: n_vars,
                got: c.point.len(),
            });
        }
        total += coeff * c.value;
        coeff *= lambda;
    }
    let (point, final_claim) = sumcheck::verify(total, &proof.sumcheck, n_vars, 2, channel)
        .map_err(|source| GkrError::Sumcheck {
            layer: "claim batching",
            source,
        })?;
    let mut weight = QM31::default();
    let mut coeff = QM31::one();
    for c in claims {
        weight += coeff * eq_eval(&c.point, &point);
        coeff *= lambda;
    }
    if weight * proof.table_eval != final_claim {
        return Err(GkrError::FinalEvalMismatch {
            layer: "claim batching",
        });
    }
    channel.mix_felts(&[proof.table_eval]);
    Ok(Claim::new(point, proof.table_eval))
}

/// `eq` table helper re-exported for reductions.
#[cfg(feature = "prover")]
pub(crate) fn eq_table(point: &[QM31]) -> Vec<QM31> {
    eq_evals(point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use sumcheck::eval_mle_base;

    fn rand_point(rng: &mut impl Rng, n: usize) -> Vec<QM31> {
        (0..n)
            .map(|_| {
                QM31::from_u32_unchecked(rng.gen_range(0..1 << 30), rng.gen_range(0..1 << 30), 1, 2)
            })
            .collect()
    }

    #[test]
    fn combine_works_and_wrong_value_fails() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let table: Vec<M31> = (0..64)
            .map(|_| M31::from(rng.gen_range(0..1000u32)))
            .collect();
        let claims: Vec<Claim> = (0..3)
            .map(|_| {
                let p = rand_point(&mut rng, 6);
                let v = eval_mle_base(&table, &p);
                Claim::new(p, v)
            })
            .collect();
        let mut pc = Blake2sChannel::default();
        let (proof, out) = prove_combine(&table, &claims, &mut pc);
        assert_eq!(eval_mle_base(&table, &out.point), out.value);
        let mut vc = Blake2sChannel::default();
        assert_eq!(verify_combine(&proof, &claims, 6, &mut vc).unwrap(), out);

        let mut bad = claims.clone();
        bad[1].value += QM31::one();
        let mut vc = Blake2sChannel::default();
        assert!(verify_combine(&proof, &bad, 6, &mut vc).is_err());
    }
}
