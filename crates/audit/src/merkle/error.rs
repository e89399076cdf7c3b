//! Why a Merkle proof was rejected.

use thiserror::Error;

/// Why an inclusion or consistency proof was rejected (or could not be generated).
#[derive(Error, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// Claimed leaf index.
        index: u64,
        /// Claimed tree size.
        size: u64,
    },
    /// A consistency proof was asked for from a larger tree to a smaller one.
    #[error("old tree size {old_size} exceeds new tree size {new_size}")]
    OldSizeExceedsNew {
        /// Claimed old tree size.
        old_size: u64,
        /// Claimed new tree size.
        new_size: u64,
    },
    /// The proof has the wrong number of hashes for the claimed sizes and index.
    #[error("{proof} proof has {got} hashes, the claimed sizes need {expected}")]
    WrongProofLength {
        /// `"inclusion"` or `"consistency"`.
        proof: &'static str,
        /// Length the sizes (and index) determine.
        expected: usize,
        /// Length received.
        got: usize,
    },
    /// The inclusion proof leads to a different tree head.
    #[error("inclusion proof for leaf {index} of {size} does not lead to the given root")]
    InclusionRootMismatch {
        /// Claimed leaf index.
        index: u64,
        /// Claimed tree size.
        size: u64,
    },
    /// The consistency proof does not reproduce the old tree head.
    #[error("consistency proof {old_size} -> {new_size} does not reproduce the old root")]
    OldRootMismatch {
        /// Claimed old tree size.
        old_size: u64,
        /// Claimed new tree size.
        new_size: u64,
    },
    /// The consistency proof does not reproduce the new tree head.
    #[error("consistency proof {old_size} -> {new_size} does not reproduce the new root")]
    NewRootMismatch {
        /// Claimed old tree size.
        old_size: u64,
        /// Claimed new tree size.
        new_size: u64,
    },
}
