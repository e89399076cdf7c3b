//! Verification errors of the layer reductions.

use sumcheck::SumcheckError;
use thiserror::Error;

/// Why a layer reduction was rejected.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GkrError {
    #[error("{layer}: sumcheck failed: {source}")]
    Sumcheck {
        layer: &'static str,
        #[source]
        source: SumcheckError,
    },
    #[error("{layer}: final evaluation does not match the sumcheck claim")]
    FinalEvalMismatch { layer: &'static str },
    #[error("claim has {got} coordinates, table has {expected} variables")]
    PointDimension { expected: usize, got: usize },
    #[error("lookup proof malformed: {0}")]
    MalformedLookup(String),
    #[error("lookup GKR layer {layer}: sumcheck failed: {source}")]
    LookupSumcheck {
        layer: usize,
        #[source]
        source: SumcheckError,
    },
    #[error("lookup GKR layer {layer}: the sumcheck's final value does not match the masks")]
    LookupCircuitCheck { layer: usize },
    #[error("lookup sums do not cancel: some looked-up value is not in its table")]
    LookupSumNonZero,
    #[error("lookup instance {instance}: input-layer claim does not match the committed columns")]
    LookupInputMismatch { instance: usize },
    #[error("lookup: value {value} of column {column} is not in its table")]
    ValueNotInTable { column: usize, value: u32 },
}
