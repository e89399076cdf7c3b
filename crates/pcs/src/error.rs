//! Verification errors.

use sumcheck::SumcheckError;
use thiserror::Error;

/// Why an opening proof (or a config) was rejected. Every variant says where it happened.
#[derive(Error, Debug)]
#[non_exhaustive]
pub enum PcsError {
    #[error("bad config: {what}")]
    BadConfig { what: &'static str },
    #[error("wrong shape of {what}: expected {expected}, got {got}")]
    WrongShape {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("sumcheck ({phase}) rejected: {source}")]
    Sumcheck {
        phase: &'static str,
        #[source]
        source: SumcheckError,
    },
    #[error("batching sumcheck: claimed evaluations do not match the final claim")]
    BatchMismatch,
    #[error("opening sumcheck: final claim does not match eq(point, r) * final constant")]
    FinalClaimMismatch,
    #[error("proof of work invalid")]
    ProofOfWork,
    #[error("Merkle decommitment of {tree} {index} invalid: {reason}")]
    MerkleInvalid {
        tree: &'static str,
        index: usize,
        reason: String,
    },
    #[error("fold mismatch entering committed layer {layer} at query {query}")]
    FoldMismatch { layer: usize, query: usize },
    #[error("final fold at query {query} does not match the final constant")]
    FinalMismatch { query: usize },
    #[error("committed-polynomial cache: {0}")]
    Cache(String),
}
