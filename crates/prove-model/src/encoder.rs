//! `--model-dir` on a BERT folder: the encoder's input file and seeded input.

use std::path::Path;

use anyhow::{bail, Context, Result};
use model::Tensor;
use model_import::hf::bert::BertConfig;
use model_import::recipe::encoder_inputs;
use serde_json::Value;

/// Token ids (and an attention mask) from `path`: a JSON array of ids (every token kept), or
/// an object `{"input_ids": [...], "attention_mask": [...]}` (the mask optional; each array
/// flat or nested once, as a batch of one).
pub fn read_input(path: &Path, config: &BertConfig) -> Result<Vec<Tensor>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let ints = |v: &Value, what: &str| -> Result<Vec<i64>> {
        let v = match v.as_array().map(Vec::as_slice) {
            Some([inner @ Value::Array(_)]) => inner,
            _ => v,
        };
        let items = v
            .as_array()
            .with_context(|| format!("{}: {what} is not an array", path.display()))?;
        items
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_i64().with_context(|| {
                    format!("{}: {what}[{i}] is {x}, not an integer", path.display())
                })
            })
            .collect()
    };
    let (ids, mask) = match &value {
        Value::Array(_) => (ints(&value, "the input")?, None),
        Value::Object(map) => {
            if let Some(k) = map
                .keys()
                .find(|k| !matches!(k.as_str(), "input_ids" | "attention_mask"))
            {
                bail!(
                    "{}: unknown key '{k}' (an encoder takes input_ids and attention_mask)",
                    path.display()
                );
            }
            let ids = map
                .get("input_ids")
                .with_context(|| format!("{}: no input_ids", path.display()))?;
            let mask = map.get("attention_mask").map(|m| ints(m, "attention_mask"));
            (ints(ids, "input_ids")?, mask.transpose()?)
        }
        _ => bail!(
            "{}: expected an array of token ids or an object with input_ids",
            path.display()
        ),
    };
    encoder_inputs(config, &ids, mask.as_deref()).with_context(|| path.display().to_string())
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
