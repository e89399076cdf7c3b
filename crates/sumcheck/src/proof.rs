//! Serialisable sumcheck proof.

use serde::{Deserialize, Serialize};
use stwo::core::fields::qm31::QM31;
use stwo::prover::lookups::sumcheck::SumcheckProof as StwoSumcheckProof;
use stwo::prover::lookups::utils::UnivariatePoly;

/// The round polynomials of one sumcheck, each as its coefficients (lowest degree first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SumcheckProof {
    #[serde(with = "crate::felt::qm31_vec_vec")]
    pub round_polys: Vec<Vec<QM31>>,
}

impl SumcheckProof {
    /// Converts to STWO's in-memory type.
    pub fn to_stwo(&self) -> StwoSumcheckProof {
        StwoSumcheckProof {
            round_polys: self
                .round_polys
                .iter()
                .map(|c| UnivariatePoly::new(c.clone()))
                .collect(),
        }
    }

    /// Converts from STWO's in-memory type.
    pub fn from_stwo(proof: &StwoSumcheckProof) -> Self {
        Self {
            round_polys: proof.round_polys.iter().map(|p| p.to_vec()).collect(),
        }
    }

    /// Number of field elements in the proof.
    pub fn n_felts(&self) -> usize {
        self.round_polys.iter().map(Vec::len).sum()
    }
}
