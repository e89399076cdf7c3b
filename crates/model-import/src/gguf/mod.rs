//! GGUF checkpoints (llama.cpp's format): a llama decoder in one file, its tensors in `F32`,
//! `F16`, `Q4_0`, `Q4_1` or `Q8_0`, decoded to `f32` one at a time and quantised by the same
//! path as a SafeTensors folder ([`crate::hf::quantise_decoder`]) into [`DecoderWeights`].
//!
//! Modules: [`reader`] (the container), [`dequant`] (ggml block layouts), [`checkpoint`]
//! (llama metadata and tensor names, Q/K row order), [`error`].
//!
//! [`DecoderWeights`]: crate::hf::DecoderWeights

pub mod checkpoint;
pub mod dequant;
pub mod error;
pub mod reader;

pub use checkpoint::{decoder_config, unpermute_rows, GgufCheckpoint};
pub use dequant::GgmlType;
pub use error::GgufError;
pub use reader::{GgufFile, TensorInfo, Value};
