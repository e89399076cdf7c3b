//! Import errors. Every variant names the file; operator errors also name the node.

use model::{ExecError, GraphError};
use thiserror::Error;

/// Why a model cannot be imported, quantised or compared.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("{file}: not a readable ONNX model: {detail}")]
    Parse { file: String, detail: String },
    #[error("{file}: node '{node}': operator {op} is not supported{detail}")]
    Unsupported {
        file: String,
        node: String,
        op: String,
        detail: String,
    },
    #[error(
        "{file}: node '{node}': operator {op} unrolls into a {rows} x {cols} matrix, more than \
         the limit of {limit} entries"
    )]
    Unrolled {
        file: String,
        node: String,
        op: String,
        rows: usize,
        cols: usize,
        limit: usize,
    },
    #[error("{file}: {detail}")]
    Structure { file: String, detail: String },
    #[error(
        "quantisation scales 2^-{act_scale_bits} (activations) / 2^-{weight_scale_bits} \
         (weights) out of range: at most {} and {}",
        crate::config::MAX_ACT_SCALE_BITS,
        crate::config::MAX_WEIGHT_SCALE_BITS
    )]
    Config {
        act_scale_bits: u32,
        weight_scale_bits: u32,
    },
    #[error("INT4 group size {group} not supported: use 32 or 64")]
    GroupSize { group: u32 },
    #[error("input has {got} values, model expects {expected} (shape {shape:?})")]
    InputLength {
        expected: usize,
        got: usize,
        shape: Vec<usize>,
    },
    #[error("input value {value} at index {index} does not fit the input range at 2^-{scale}")]
    InputRange {
        index: usize,
        value: f32,
        scale: u32,
    },
    #[error(
        "{file}: calibration: node '{node}' reaches |x| = {max_abs}, beyond the activation \
         range even at scale 2^0"
    )]
    Calibration {
        file: String,
        node: String,
        max_abs: f64,
    },
    #[error("{file}: the quantised graph is malformed: {source}")]
    Graph {
        file: String,
        #[source]
        source: GraphError,
    },
    #[error("{file}: the quantised graph does not run on the calibration input: {source}")]
    Exec {
        file: String,
        #[source]
        source: ExecError,
    },
    #[error("{file}: a trace of {values} values for a graph of {nodes} nodes")]
    Trace {
        file: String,
        nodes: usize,
        values: usize,
    },
    #[error("{file}: the f32 reference run failed: {detail}")]
    Reference { file: String, detail: String },
}
