//! Commitments, claims and the serialisable opening proof.

use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use sumcheck::SumcheckProof;

/// Public commitment to a multilinear polynomial: the Merkle root of its codeword and its
/// number of variables (which fixes every shape of an opening proof).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolyCommitment {
    pub root: [u8; 32],
    pub n_variables: u32,
}

/// The claim `MLE(point) = value` (variable 0 of `point` = most significant index bit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub point: Vec<QM31>,
    pub value: QM31,
}

/// Opened Merkle leaves of one tree: the leaf values (leaves in increasing index order, each
/// leaf's columns in order) and STWO's hash witness.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decommitment {
    #[serde(with = "sumcheck::felt::m31_vec")]
    pub values: Vec<M31>,
    pub hash_witness: Vec<[u8; 32]>,
}

/// Phase 1: the batching sumcheck that reduces all claims to one point per polynomial.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchProof {
    pub sumcheck: SumcheckProof,
    /// `f_j(rho_j)` for every polynomial.
    #[serde(with = "sumcheck::felt::qm31_vec")]
    pub evals: Vec<QM31>,
}

/// Proof that committed polynomials satisfy a list of claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpeningProof {
    /// Present unless there is exactly one polynomial with exactly one claim.
    pub batch: Option<BatchProof>,
    /// Phase 2 sumcheck; its challenges are the folding challenges.
    pub sumcheck: SumcheckProof,
    /// Roots of the committed folded layers (after `k`, `2k`, ... folds).
    pub layer_roots: Vec<[u8; 32]>,
    /// The fully folded (normalised) value `sum_j nu_j f_j(r)`.
    #[serde(with = "sumcheck::felt::qm31")]
    pub final_value: QM31,
    pub pow_nonce: u64,
    /// One decommitment per committed polynomial.
    pub poly_decommitments: Vec<Decommitment>,
    /// One decommitment per committed folded layer.
    pub layer_decommitments: Vec<Decommitment>,
}

impl OpeningProof {
    /// Size of the bincode encoding in bytes.
    pub fn size_bytes(&self) -> usize {
        bincode::serialized_size(self).map_or(0, |s| s as usize)
    }
}
