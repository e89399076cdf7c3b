//! HuggingFace checkpoints: a folder with `config.json` and SafeTensors shards of a Llama,
//! Mistral, Qwen2 or Qwen3 decoder, read into typed, quantised [`DecoderWeights`] for the
//! transformer builder of `model`.
//!
//! [`Checkpoint::open`] parses the config into a [`DecoderConfig`] and checks every shard's
//! header against its file (the index `model.safetensors.index.json`, when present, names the
//! shards); nothing else is read. [`Checkpoint::load_decoder`] (or [`load_decoder`]) then
//! reads the tensors one at a time, in chunks, decodes them (`F32`, `F16`, `BF16`, `I8` and
//! packed INT4 with scales: see [`checkpoint`]), checks their shapes against the config and
//! quantises each by the [`crate::QuantConfig`]'s strategy into a [`QuantTensor`] before the
//! next is read. Peak memory is the quantised model plus one tensor in `f32`.
//!
//! Modules: [`config`], [`shard`] (one file), [`checkpoint`] (the folder, dtypes),
//! [`weights`] (names, shapes, quantisation), [`synth`] (seeded synthetic checkpoints for
//! tests and benchmarks), [`graph`] (the decoder as a proved graph), [`track`] (its `f32`
//! dual track), [`error`].

pub mod bert;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod graph;
pub mod shard;
pub mod step;
pub mod synth;
pub mod track;
pub mod weights;

pub use checkpoint::{Checkpoint, TensorMeta, INDEX_FILE, SCALE_SUFFIX};
pub use config::{DecoderConfig, Family};
pub use error::HfError;
pub use graph::{DecoderError, DecoderModel};
pub use track::DualTrack;
pub use weights::{
    load_decoder, quantise_decoder, DecoderWeights, LayerWeights, LoadOptions, TensorSource,
    VECTOR_SCALE_BITS,
};

pub use crate::qtensor::QuantTensor;
