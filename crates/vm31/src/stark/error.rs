//! Errors of proving and verifying transaction statements.

use stwo::core::verifier::VerificationError;
use thiserror::Error;

/// Why a proof could not be made, decoded or accepted.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The witness does not satisfy the statement (checked natively before proving).
    #[error("witness does not satisfy the statement: {what}")]
    WitnessMismatch { what: &'static str },
    /// A public input that is out of range or otherwise invalid.
    #[error("invalid public input: {what}")]
    InvalidPublicInput { what: &'static str },
    /// A trace longer than the largest supported one.
    #[error("statement needs {rows} rows, more than supported")]
    TraceTooLarge { rows: usize },
    /// STWO's prover found a constraint that does not hold.
    #[error("constraints not satisfied by the trace")]
    ConstraintsNotSatisfied,
    /// A proof made under another PCS configuration.
    #[error("proof uses PCS configuration {got}, expected {expected}")]
    ConfigMismatch { expected: String, got: String },
    /// A proof whose preprocessed commitment is not the one the verifier computed.
    #[error("preprocessed-column commitment does not match the statement type")]
    PreprocessedMismatch,
    /// A proof of the wrong shape (commitment count, sampled values, …).
    #[error("malformed proof: {what}")]
    MalformedProof { what: String },
    /// STWO's verifier rejected the proof.
    #[error("proof rejected: {source}")]
    Rejected {
        #[source]
        source: VerificationError,
    },
    /// A statement root that the pool does not accept (unknown or evicted from the window).
    #[error("statement root refused: {source}")]
    UnknownRoot {
        #[source]
        source: crate::Error,
    },
    /// A proof of another format version.
    #[error("proof format version {got}, this verifier reads version {expected}")]
    UnsupportedVersion { got: u16, expected: u16 },
    /// A proof made for another statement kind.
    #[error("proof is for statement kind {got}, expected {expected}")]
    KindMismatch { expected: u32, got: u8 },
    /// The configuration's mask columns cannot hide every value a proof opens.
    #[error("{needed} opened base-field values need more than the {available} mask degrees of freedom of a 2^{log_size}-row trace")]
    InsufficientMasking {
        log_size: u32,
        needed: usize,
        available: usize,
    },
    /// The operating system's random number generator failed.
    #[error("no randomness from the operating system: {what}")]
    Entropy { what: String },
    /// Bytes that are not the canonical encoding of a proof.
    #[error("proof bytes are not a canonical encoding: {what}")]
    Decode { what: String },
}
