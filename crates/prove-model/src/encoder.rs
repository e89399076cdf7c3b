//! `--model-dir` on a BERT folder: the encoder's input file and seeded input.

use std::path::Path;

use anyhow::{Context, Result};
use model::Tensor;
use model_import::hf::bert::BertConfig;
use model_import::recipe::{encoder_inputs, encoder_inputs_from_json};
use serde_json::Value;

/// Token ids (and an attention mask) from `path`
/// ([`model_import::recipe::encoder_inputs_from_json`]).
pub fn read_input(path: &Path, config: &BertConfig) -> Result<Vec<Tensor>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    encoder_inputs_from_json(config, &value).with_context(|| path.display().to_string())
}

/// `seq_len` token ids below the vocabulary from `seed`, every token kept.
pub fn seeded_input(config: &BertConfig, seq_len: usize, seed: u64) -> Result<Vec<Tensor>> {
    let vocab = config.vocab_size as f32;
    let ids: Vec<i64> = model_import::seeded_uniform(seed)
        .take(seq_len)
        .map(|u| ((u * vocab) as i64).min(config.vocab_size as i64 - 1))
        .collect();
    Ok(encoder_inputs(config, &ids, None)?)
}
