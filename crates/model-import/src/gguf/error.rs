//! Errors of the GGUF import. Every variant names the file, and the key or tensor where there
//! is one.

use std::path::PathBuf;

use thiserror::Error;

use crate::hf::HfError;

/// Why a GGUF file cannot be read, mapped or quantised.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GgufError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a GGUF file (magic {got:?}, expected \"GGUF\")", path.display())]
    Magic { path: PathBuf, got: [u8; 4] },
    #[error("{}: GGUF version {version} is not supported (2 or 3)", path.display())]
    Version { path: PathBuf, version: u32 },
    #[error("{}: truncated: {need} bytes needed at offset {at}, the file has {len}", path.display())]
    Truncated {
        path: PathBuf,
        at: u64,
        need: u64,
        len: u64,
    },
    #[error("{}: {what} {count} is out of range (at most {limit})", path.display())]
    Count {
        path: PathBuf,
        what: &'static str,
        count: u64,
        limit: u64,
    },
    #[error("{}: metadata '{key}' has unknown value type {type_id}", path.display())]
    ValueType {
        path: PathBuf,
        key: String,
        type_id: u32,
    },
    #[error("{}: string at offset {at} is not UTF-8", path.display())]
    Utf8 { path: PathBuf, at: u64 },
    #[error("{}: metadata '{key}': {detail}", path.display())]
    Metadata {
        path: PathBuf,
        key: String,
        detail: String,
    },
    #[error("{}: tensor '{name}' has ggml type {type_id}, not one this reader decodes (F32, F16, Q4_0, Q4_1, Q8_0)", path.display())]
    TensorType {
        path: PathBuf,
        name: String,
        type_id: u32,
    },
    #[error("{}: tensor '{name}': {detail}", path.display())]
    Tensor {
        path: PathBuf,
        name: String,
        detail: String,
    },
    #[error("{}: tensor '{name}' is missing", path.display())]
    MissingTensor { path: PathBuf, name: String },
    #[error("{}: tensor '{name}' holds {value} at index {index}", path.display())]
    NonFinite {
        path: PathBuf,
        name: String,
        index: usize,
        value: f32,
    },
    #[error("{}: general.architecture '{arch}' is not supported (llama)", path.display())]
    Architecture { path: PathBuf, arch: String },
    #[error(transparent)]
    Load(#[from] HfError),
}
