//! HuggingFace decoder folders (or GGUF files): token ids in, logits out.
//!
//! The graph is [`DecoderModel::graph`] (embedding, the first `layers` blocks, final norm, LM
//! head) for as many positions as there are token ids, with the norms calibrated on the token
//! ids (an `f32` forward pass, [`DecoderModel::calibrate`]). A proof carries the token ids, so
//! a verifier rebuilds the same graph from the same folder, layer count and quantisation with
//! [`decoder_graph`].

use std::fmt;
use std::path::PathBuf;

use model::{execute, Graph, Tensor};
use serde_json::Value;

use super::error::CheckpointError;
use super::{Comparison, PrepareError, Prepared, TokenIdsError};
use crate::gguf::GgufCheckpoint;
use crate::hf::track::checkpoint_options;
use crate::hf::{Checkpoint, DecoderConfig, DecoderModel, DecoderWeights, LoadOptions};
use crate::{seeded_uniform, QuantConfig};

/// Sequence length of the seeded input, and of a graph built without token ids.
pub const DEFAULT_SEQ_LEN: usize = 8;

/// A decoder folder and how to build its graph.
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderSource {
    /// The checkpoint folder (`config.json` and `*.safetensors`), or a `.gguf` file.
    pub dir: PathBuf,
    /// Use the first this many decoder layers (default: all).
    pub layers: Option<usize>,
    /// The number of tokens (default: as many as there are token ids, else
    /// [`DEFAULT_SEQ_LEN`]).
    pub seq_len: Option<usize>,
    /// Weight quantisation.
    pub quant: QuantConfig,
}

/// What [`decoder_graph`] loaded: the checkpoint's shape and how much of it.
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderSummary {
    pub dir: PathBuf,
    pub config: DecoderConfig,
    /// Decoder layers loaded (of `config.num_hidden_layers`).
    pub layers: usize,
    /// Parameters loaded.
    pub n_params: usize,
    /// Tokens the graph is built for.
    pub seq_len: usize,
}

impl fmt::Display for DecoderSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        write!(
            f,
            "checkpoint {}: {:?}, hidden {}, {} heads ({} KV) of {}, FFN {}, vocab {}, {} of {} \
             layers loaded ({} parameters), graph for {} tokens",
            self.dir.display(),
            c.family,
            c.hidden_size,
            c.num_attention_heads,
            c.num_key_value_heads,
            c.head_dim,
            c.intermediate_size,
            c.vocab_size,
            self.layers,
            c.num_hidden_layers,
            self.n_params,
            self.seq_len
        )
    }
}

/// An opened checkpoint of either format.
enum Opened {
    Hf(Checkpoint),
    Gguf(GgufCheckpoint),
}

impl Opened {
    fn config(&self) -> &DecoderConfig {
        match self {
            Opened::Hf(c) => &c.config,
            Opened::Gguf(c) => &c.config,
        }
    }

    fn load_decoder(&self, options: &LoadOptions) -> Result<DecoderWeights, Box<CheckpointError>> {
        match self {
            Opened::Hf(c) => c.load_decoder(options).map_err(|e| Box::new(e.into())),
            Opened::Gguf(c) => c.load_decoder(options).map_err(|e| Box::new(e.into())),
        }
    }
}

/// Whether `path` names a GGUF file (by its extension).
fn is_gguf(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

impl DecoderSource {
    fn open(&self) -> Result<Opened, PrepareError> {
        let dir = &self.dir;
        let open_error = |source: CheckpointError| PrepareError::Open {
            dir: dir.clone(),
            source: Box::new(source),
        };
        if is_gguf(dir) {
            if !dir.is_file() {
                return Err(PrepareError::NoGguf { path: dir.clone() });
            }
            return GgufCheckpoint::open(dir)
                .map(Opened::Gguf)
                .map_err(|e| open_error(e.into()));
        }
        if !dir.is_dir() {
            return Err(PrepareError::NoFolder { dir: dir.clone() });
        }
        if !dir.join("config.json").is_file() {
            return Err(PrepareError::NoConfig { dir: dir.clone() });
        }
        Checkpoint::open(dir)
            .map(Opened::Hf)
            .map_err(|e| open_error(e.into()))
    }

    /// The sequence length for `ids` token ids: that number when given (and [`Self::seq_len`],
    /// when also given, must agree), else [`Self::seq_len`], else [`DEFAULT_SEQ_LEN`].
    pub fn seq_len_for(&self, ids: Option<usize>) -> Result<usize, PrepareError> {
        match (ids, self.seq_len) {
            (Some(ids), Some(seq_len)) if ids != seq_len => {
                Err(PrepareError::SeqLen { ids, seq_len })
            }
            (Some(n), _) | (None, Some(n)) => Ok(n),
            (None, None) => Ok(DEFAULT_SEQ_LEN),
        }
    }

    /// The quantised weights and the decoder built from them for `seq_len` tokens.
    fn load(
        &self,
        ckpt: &Opened,
        seq_len: usize,
    ) -> Result<(DecoderWeights, DecoderModel), PrepareError> {
        let options = LoadOptions {
            quant: self.quant,
            layers: self.layers,
        };
        let weights = ckpt
            .load_decoder(&options)
            .map_err(|source| PrepareError::Load {
                dir: self.dir.clone(),
                source,
            })?;
        let model = DecoderModel::new(&weights, seq_len).map_err(|source| PrepareError::Build {
            dir: self.dir.clone(),
            source,
        })?;
        Ok((weights, model))
    }
}

/// The decoder of `src` on the token ids `ids` (`seed`ed ids below the vocabulary size if
/// `None`): graph, input, its one forward pass, and the logits (and each block's output)
/// against `f32` on the quantised weights and on the checkpoint's weights at 2^-16.
pub fn prepare_decoder(
    src: &DecoderSource,
    ids: Option<Vec<usize>>,
    seed: u64,
) -> Result<Prepared, PrepareError> {
    let ckpt = src.open()?;
    let seq_len = src.seq_len_for(ids.as_ref().map(Vec::len))?;
    let ids = ids.unwrap_or_else(|| seeded_ids(seq_len, ckpt.config().vocab_size, seed));
    let (weights, mut model) = src.load(&ckpt, seq_len)?;
    drop(weights);
    let input = model
        .input(&ids)
        .map_err(|source| PrepareError::Tokens { source })?;
    model
        .calibrate(&ids)
        .map_err(|source| PrepareError::Calibrate { source })?;
    let (graph, block_nodes) = model.graph_with_blocks()?;
    let trace = execute(&graph, &input).map_err(|source| PrepareError::Exec {
        model: graph.name.clone(),
        source,
    })?;
    let fine = ckpt
        .load_decoder(&checkpoint_options(src.layers))
        .map_err(|source| PrepareError::Reference {
            dir: src.dir.clone(),
            source,
        })?;
    let mut track = model.dual_track(&ids, trace.output(&graph), Some(&fine))?;
    track.blocks = model.block_errors(&ids, &trace, &block_nodes)?;
    Ok(Prepared {
        graph,
        inputs: vec![input],
        trace,
        report: Some(Comparison::Decoder(track)),
        outputs: Vec::new(),
    })
}

/// The decoder of `src` built for `prompt.len()` tokens and calibrated on `prompt`: every
/// scale is fixed there, so the steps of a generation from this prompt
/// ([`DecoderModel::step_graph`]) are the same graphs for whoever rebuilds them from the
/// same folder, flags and prompt.
pub fn decoder_model(src: &DecoderSource, prompt: &[usize]) -> Result<DecoderModel, PrepareError> {
    let ckpt = src.open()?;
    let (weights, mut model) = src.load(&ckpt, prompt.len().max(1))?;
    drop(weights);
    model
        .calibrate(prompt)
        .map_err(|source| PrepareError::Calibrate { source })?;
    Ok(model)
}

/// The graph [`prepare_decoder`] builds for the token ids in `input` (a proof's public input,
/// `seq_len x 1`), or, without one, for [`DecoderSource::seq_len`] tokens with the norms
/// uncalibrated (for inspecting); and what was loaded.
pub fn decoder_graph(
    src: &DecoderSource,
    input: Option<&Tensor>,
) -> Result<(Graph, DecoderSummary), PrepareError> {
    let seq_len = src.seq_len_for(input.map(|x| x.shape.rows))?;
    let ckpt = src.open()?;
    let (weights, mut model) = src.load(&ckpt, seq_len)?;
    if let Some(x) = input {
        let ids = x
            .data
            .iter()
            .map(|&value| usize::try_from(value).map_err(|_| PrepareError::NegativeToken { value }))
            .collect::<Result<Vec<_>, _>>()?;
        model
            .calibrate(&ids)
            .map_err(|source| PrepareError::Calibrate { source })?;
    }
    let summary = DecoderSummary {
        dir: src.dir.clone(),
        config: weights.config.clone(),
        layers: weights.layers.len(),
        n_params: weights.n_params(),
        seq_len: model.config.seq_len,
    };
    Ok((model.graph()?, summary))
}

/// Token ids from the text of a JSON array of non-negative integers.
pub fn token_ids_from_json(text: &str) -> Result<Vec<usize>, TokenIdsError> {
    let value: Value = serde_json::from_str(text).map_err(|e| TokenIdsError::Json {
        detail: e.to_string(),
    })?;
    let Value::Array(items) = value else {
        return Err(TokenIdsError::NotArray);
    };
    if items.is_empty() {
        return Err(TokenIdsError::Empty);
    }
    items
        .iter()
        .enumerate()
        .map(|(index, v)| {
            v.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| TokenIdsError::Entry {
                    index,
                    value: v.to_string(),
                })
        })
        .collect()
}

/// `n` token ids below `vocab` from `seed`.
fn seeded_ids(n: usize, vocab: usize, seed: u64) -> Vec<usize> {
    seeded_uniform(seed)
        .take(n)
        .map(|u| ((u * vocab as f32) as usize).min(vocab.saturating_sub(1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_from_json_works() {
        assert_eq!(token_ids_from_json("[3, 0, 7]"), Ok(vec![3, 0, 7]));
    }

    #[test]
    fn invalid_token_ids_fail() {
        assert_eq!(token_ids_from_json("[]"), Err(TokenIdsError::Empty));
        assert_eq!(
            token_ids_from_json("{\"ids\": [1]}"),
            Err(TokenIdsError::NotArray)
        );
        assert!(matches!(
            token_ids_from_json("[1,"),
            Err(TokenIdsError::Json { .. })
        ));
        let err = token_ids_from_json("[1, 2.5]").unwrap_err();
        assert_eq!(
            err.to_string(),
            "entry 1 is 2.5; token ids are non-negative integers"
        );
        assert!(matches!(
            token_ids_from_json("[1, -2]"),
            Err(TokenIdsError::Entry { index: 1, .. })
        ));
    }

    #[test]
    fn seq_len_is_reconciled() {
        let src = DecoderSource {
            dir: PathBuf::from("unused"),
            layers: None,
            seq_len: Some(4),
            quant: QuantConfig::default(),
        };
        assert_eq!(src.seq_len_for(None).unwrap(), 4);
        assert_eq!(src.seq_len_for(Some(4)).unwrap(), 4);
        assert!(matches!(
            src.seq_len_for(Some(3)),
            Err(PrepareError::SeqLen { ids: 3, seq_len: 4 })
        ));
        let free = DecoderSource {
            seq_len: None,
            ..src
        };
        assert_eq!(free.seq_len_for(None).unwrap(), DEFAULT_SEQ_LEN);
        assert_eq!(free.seq_len_for(Some(5)).unwrap(), 5);
    }
}
