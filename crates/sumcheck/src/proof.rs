//! Serialisable sumcheck proof: one round polynomial per round.
//!
//! The wire format is that of STWO's `SumcheckProof` (a sequence of round polynomials, each a
//! sequence of QM31 coefficients, lowest degree first), so proofs written before these types
//! were ours decode unchanged.

use serde::{Deserialize, Serialize};
use stwo::core::fields::qm31::QM31;

/// A univariate round polynomial as its coefficients, lowest degree first.
///
/// Unlike STWO's `UnivariatePoly`, [`RoundPoly::new`] keeps the coefficients exactly as given
/// (no trimming of trailing zeros): they are what the prover sent and what was mixed into the
/// transcript, so the verifier must see them unchanged to judge whether they are canonical.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundPoly(#[serde(with = "crate::felt::qm31_vec")] pub Vec<QM31>);

impl RoundPoly {
    pub fn new(coeffs: Vec<QM31>) -> Self {
        Self(coeffs)
    }

    /// The coefficients, lowest degree first.
    pub fn coeffs(&self) -> &[QM31] {
        &self.0
    }

    /// `p(x)` by Horner's rule (the empty polynomial is 0).
    pub fn eval_at(&self, x: QM31) -> QM31 {
        self.0.iter().rfold(QM31::default(), |acc, &c| acc * x + c)
    }

    /// `p(0) + p(1)`: the constant coefficient twice plus every other coefficient once.
    pub fn sum_over_bit(&self) -> QM31 {
        self.eval_at(QM31::default()) + self.eval_at(QM31::from_u32_unchecked(1, 0, 0, 0))
    }

    /// Canonical encoding: no trailing zero coefficient (the zero polynomial is empty).
    pub fn is_canonical(&self) -> bool {
        self.0.last() != Some(&QM31::default())
    }
}

impl std::ops::Deref for RoundPoly {
    type Target = [QM31];

    fn deref(&self) -> &[QM31] {
        &self.0
    }
}

/// The round polynomials of one sumcheck, in round order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SumcheckProof {
    pub round_polys: Vec<RoundPoly>,
}

impl SumcheckProof {
    /// Converts from STWO's prover-side type (its coefficients unchanged).
    #[cfg(feature = "prover")]
    pub fn from_stwo(proof: &stwo::prover::lookups::sumcheck::SumcheckProof) -> Self {
        Self {
            round_polys: proof
                .round_polys
                .iter()
                .map(|p| RoundPoly::new(p.to_vec()))
                .collect(),
        }
    }

    /// Number of field elements in the proof.
    pub fn n_felts(&self) -> usize {
        self.round_polys.iter().map(|p| p.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The format is STWO's: a sequence of sequences of QM31 coefficients.
    #[test]
    fn encoding_is_a_sequence_of_coefficient_sequences() {
        let c = |i| QM31::from_u32_unchecked(i, i + 1, i + 2, i + 3);
        let proof = SumcheckProof {
            round_polys: vec![RoundPoly::new(vec![c(1), c(5)]), RoundPoly::new(vec![])],
        };
        let raw: Vec<Vec<[u32; 4]>> = vec![vec![[1, 2, 3, 4], [5, 6, 7, 8]], vec![]];
        assert_eq!(
            bincode::serialize(&proof).unwrap(),
            bincode::serialize(&raw).unwrap()
        );
        assert_eq!(
            serde_json::to_string(&proof).unwrap(),
            serde_json::to_string(&serde_json::json!({ "round_polys": raw })).unwrap()
        );
    }
}
