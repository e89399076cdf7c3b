//! Errors of proving and verifying.

use thiserror::Error;

/// Why a proof could not be produced.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProveError {
    #[error("invalid model: {0}")]
    Graph(#[from] model::GraphError),
    #[error("forward pass failed: {0}")]
    Exec(#[from] model::ExecError),
    #[error("model structure: {0}")]
    Circuit(#[from] VerifyError),
    #[error("witness violates a lookup: {0}")]
    Witness(#[from] gkr::GkrError),
    #[error("a transcript challenge hit a degenerate point (probability ~2^-120); prove again")]
    Degenerate,
    #[error("the graph's weights differ from the committed ones: commit them instead")]
    WeightsDiffer,
    #[error("the execution trace is not one of this model's graph (node count or shapes differ)")]
    TraceMismatch,
}

/// Why a proof was rejected. Every variant names what failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("unsupported proof version {got} (this verifier reads version {expected})")]
    Version { expected: u32, got: u32 },
    #[error("proof is for model {got}, not for model {expected}")]
    WrongModel { expected: String, got: String },
    #[error("the proof was made with {got}; the key requires {expected}")]
    ConfigMismatch { expected: String, got: String },
    #[error("malformed model: {0}")]
    MalformedModel(String),
    #[error("malformed proof: {0}")]
    MalformedProof(String),
    #[error("the model takes {expected} public input tensors, got {got}")]
    InputCount { expected: usize, got: usize },
    #[error("the model has {expected} public outputs, got {got}")]
    OutputCount { expected: usize, got: usize },
    #[error("input has shape {got_rows}x{got_cols}, model expects {rows}x{cols}")]
    InputShape {
        rows: usize,
        cols: usize,
        got_rows: usize,
        got_cols: usize,
    },
    #[error("output has shape {got_rows}x{got_cols}, model produces {rows}x{cols}")]
    OutputShape {
        rows: usize,
        cols: usize,
        got_rows: usize,
        got_cols: usize,
    },
    #[error("public {which} value {value} at index {index} is out of range")]
    PublicRange {
        which: &'static str,
        index: usize,
        value: i64,
    },
    #[error("lookup argument rejected: {0}")]
    Lookup(#[source] gkr::GkrError),
    #[error("node {node} ({op}): {source}")]
    Layer {
        node: usize,
        op: &'static str,
        #[source]
        source: gkr::GkrError,
    },
    #[error("claim on the public {which} does not match its value: the output (or input) is not what the model computes")]
    PublicClaimMismatch { which: &'static str },
    #[error("commitment opening rejected: {0}")]
    Opening(#[source] pcs::PcsError),
    #[error("cannot decode proof: {0}")]
    Decode(String),
    #[error("proof file of {bytes} bytes exceeds the limit of {limit} bytes")]
    ProofTooLarge { bytes: u64, limit: u64 },
    #[error("the model and configuration give {bits} bits of security; at least {floor} required")]
    InsufficientSecurity { bits: u32, floor: u32 },
}

/// Why a proof file could not be written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EncodeError {
    #[error("proof file of {bytes} bytes exceeds the limit of {limit} bytes")]
    TooLarge { bytes: u64, limit: u64 },
    #[error("cannot encode proof: {0}")]
    Serialize(String),
}
