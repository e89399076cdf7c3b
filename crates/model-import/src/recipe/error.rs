//! Why a model and an input cannot be prepared for proving.
//!
//! A variant's message names the step and the folder or file; the cause, where there is one,
//! is its [`std::error::Error::source`], not repeated in the message (print the chain, as
//! `anyhow`'s `{:#}` does, to see both).

use std::path::PathBuf;

use model::ExecError;
use thiserror::Error;

use crate::gguf::GgufError;
use crate::hf::{DecoderError, HfError};

/// A checkpoint's own error: a SafeTensors folder's or a GGUF file's.
#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Hf(#[from] HfError),
    #[error(transparent)]
    Gguf(#[from] GgufError),
}
use crate::ImportError;

/// Why a model and an input cannot be turned into a graph, an input tensor and a trace.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PrepareError {
    /// An ONNX model cannot be loaded, lowered, quantised or compared.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// The input JSON of an ONNX model is malformed or names other inputs.
    #[error("input JSON for {file}")]
    InputJson {
        file: String,
        #[source]
        source: crate::recipe::onnx_input::InputJsonError,
    },
    /// The input of an ONNX model does not fit it (length, range).
    #[error("input for {file}")]
    OnnxInput {
        file: String,
        #[source]
        source: Box<ImportError>,
    },
    #[error("{}: no such folder", dir.display())]
    NoFolder { dir: PathBuf },
    #[error("{}: no such GGUF file", path.display())]
    NoGguf { path: PathBuf },
    #[error(
        "{}: no config.json (expected a HuggingFace checkpoint folder with config.json and \
         *.safetensors)",
        dir.display()
    )]
    NoConfig { dir: PathBuf },
    #[error("opening {}", dir.display())]
    Open {
        dir: PathBuf,
        #[source]
        source: Box<CheckpointError>,
    },
    #[error("loading {}", dir.display())]
    Load {
        dir: PathBuf,
        #[source]
        source: Box<CheckpointError>,
    },
    #[error("loading {} for the f32 reference", dir.display())]
    Reference {
        dir: PathBuf,
        #[source]
        source: Box<CheckpointError>,
    },
    #[error("building the decoder of {}", dir.display())]
    Build {
        dir: PathBuf,
        #[source]
        source: DecoderError,
    },
    /// The token ids given and the sequence length asked for disagree.
    #[error("the input has {ids} token ids but the sequence length is {seq_len}")]
    SeqLen { ids: usize, seq_len: usize },
    /// The token ids are not an input of the decoder (count, vocabulary).
    #[error("the token ids")]
    Tokens {
        #[source]
        source: DecoderError,
    },
    #[error("token id {value} is negative")]
    NegativeToken { value: i64 },
    /// The token ids and attention mask of an encoder do not fit it.
    #[error("encoder input: {detail}")]
    EncoderInput { detail: String },
    #[error("calibrating the norms on the token ids")]
    Calibrate {
        #[source]
        source: DecoderError,
    },
    /// The decoder's graph or its dual track.
    #[error(transparent)]
    Decoder(#[from] DecoderError),
    /// The integer forward pass refused the input.
    #[error("running {model}")]
    Exec {
        model: String,
        #[source]
        source: ExecError,
    },
}

/// Why a text is not a list of token ids.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenIdsError {
    #[error("expected a JSON array of token ids: {detail}")]
    Json { detail: String },
    #[error("expected a JSON array of token ids")]
    NotArray,
    #[error("no token ids")]
    Empty,
    #[error("entry {index} is {value}; token ids are non-negative integers")]
    Entry { index: usize, value: String },
}
