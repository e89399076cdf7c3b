//! Errors of the SafeTensors import. Every variant names the file, and the tensor or
//! configuration field where there is one.

use std::path::PathBuf;

use thiserror::Error;

/// Why a HuggingFace checkpoint folder cannot be read or quantised.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HfError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not valid JSON: {detail}", file.display())]
    Json { file: PathBuf, detail: String },
    #[error("{}: config field '{field}': {detail}", file.display())]
    ConfigField {
        file: PathBuf,
        field: &'static str,
        detail: String,
    },
    #[error("{}: model_type '{model_type}' is not a supported decoder (llama, mistral, qwen2, qwen3)", file.display())]
    Architecture { file: PathBuf, model_type: String },
    #[error("{}: weight index: {detail}", file.display())]
    Index { file: PathBuf, detail: String },
    #[error("{}: no *.safetensors file", dir.display())]
    NoShards { dir: PathBuf },
    #[error("{}: bad SafeTensors header: {detail}", file.display())]
    Header { file: PathBuf, detail: String },
    #[error(
        "{}: the header describes {expected} bytes (header and data) but the file has {got}",
        file.display()
    )]
    FileSize {
        file: PathBuf,
        expected: u64,
        got: u64,
    },
    #[error("tensor '{name}' is in both {} and {}", first.display(), second.display())]
    Duplicate {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{}: tensor '{name}' is missing", dir.display())]
    MissingTensor { dir: PathBuf, name: String },
    #[error("{}: tensor '{name}' has shape {got:?}, expected {expected:?}", file.display())]
    Shape {
        file: PathBuf,
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("{}: tensor '{name}' has dtype {dtype}, expected {expected}", file.display())]
    Dtype {
        file: PathBuf,
        name: String,
        dtype: String,
        expected: &'static str,
    },
    #[error("{}: tensor '{name}': {detail}", file.display())]
    Scale {
        file: PathBuf,
        name: String,
        detail: String,
    },
    #[error("{}: tensor '{name}' holds {value} at index {index}", file.display())]
    NonFinite {
        file: PathBuf,
        name: String,
        index: usize,
        value: f32,
    },
    #[error(
        "{}: tensor '{name}' holds {value}, beyond the integer range at 2^-{scale}",
        file.display()
    )]
    Range {
        file: PathBuf,
        name: String,
        value: f32,
        scale: u32,
    },
    #[error("asked for {asked} layers, the model has {available}")]
    LayerCount { asked: usize, available: usize },
    #[error(transparent)]
    Quant(#[from] crate::ImportError),
}
