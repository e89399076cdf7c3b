//! A llama GGUF file as a [`TensorSource`] in HuggingFace's names and shapes, and its metadata
//! as a [`DecoderConfig`], so that [`quantise_decoder`] loads it like a SafeTensors folder.
//!
//! **Q and K rows.** llama.cpp's converter reorders each head's rows of `attn_q` and `attn_k`
//! (`reshape(n_head, 2, hd / 2, in).swapaxes(1, 2)`): GGUF row `2i + a` of a head is
//! transformers' row `a * hd / 2 + i`, interleaved pairs instead of rotate-half halves. Our
//! graph uses rotate-half, so those rows are put back here.

use std::path::{Path, PathBuf};

use model::rope::RopeScaling;

use super::reader::{GgufFile, Value};
use super::GgufError;
use crate::hf::weights::{quantise_decoder, TensorSource};
use crate::hf::{DecoderConfig, DecoderWeights, Family, LoadOptions};

/// An opened GGUF llama checkpoint.
#[derive(Debug)]
pub struct GgufCheckpoint {
    pub file: GgufFile,
    pub config: DecoderConfig,
}

impl GgufCheckpoint {
    /// Parses `path` and its llama metadata.
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        let file = GgufFile::open(path)?;
        let config = decoder_config(&file)?;
        Ok(Self { file, config })
    }

    /// Quantises the decoder (see [`LoadOptions`]).
    pub fn load_decoder(&self, options: &LoadOptions) -> Result<DecoderWeights, GgufError> {
        quantise_decoder(self, &self.config, options)
    }

    /// The GGUF name of a transformers tensor name, and the head count whose rows llama.cpp
    /// permuted (Q and K).
    fn gguf_name(&self, name: &str) -> Option<(String, Option<usize>)> {
        let c = &self.config;
        let fixed = match name {
            "model.embed_tokens.weight" => Some("token_embd.weight"),
            "model.norm.weight" => Some("output_norm.weight"),
            "lm_head.weight" => Some("output.weight"),
            _ => None,
        };
        if let Some(n) = fixed {
            return Some((n.into(), None));
        }
        let rest = name.strip_prefix("model.layers.")?;
        let (layer, rest) = rest.split_once('.')?;
        let layer: usize = layer.parse().ok()?;
        let (g, heads) = match rest {
            "self_attn.q_proj.weight" => ("attn_q.weight", Some(c.num_attention_heads)),
            "self_attn.k_proj.weight" => ("attn_k.weight", Some(c.num_key_value_heads)),
            "self_attn.v_proj.weight" => ("attn_v.weight", None),
            "self_attn.o_proj.weight" => ("attn_output.weight", None),
            "mlp.gate_proj.weight" => ("ffn_gate.weight", None),
            "mlp.up_proj.weight" => ("ffn_up.weight", None),
            "mlp.down_proj.weight" => ("ffn_down.weight", None),
            "input_layernorm.weight" => ("attn_norm.weight", None),
            "post_attention_layernorm.weight" => ("ffn_norm.weight", None),
            _ => return None,
        };
        Some((format!("blk.{layer}.{g}"), heads))
    }

    fn missing(&self, name: &str) -> GgufError {
        GgufError::MissingTensor {
            path: self.file.path.clone(),
            name: name.into(),
        }
    }
}

/// Puts back transformers' row order of a `[heads * hd, cols]` Q or K weight that llama.cpp
/// interleaved (see the module doc).
pub fn unpermute_rows(w: &[f32], heads: usize, cols: usize) -> Vec<f32> {
    let rows = w.len() / cols.max(1);
    let hd = rows / heads.max(1);
    let half = hd / 2;
    let mut out = vec![0f32; w.len()];
    for h in 0..heads {
        for i in 0..half {
            for a in 0..2 {
                let src = (h * hd + 2 * i + a) * cols;
                let dst = (h * hd + a * half + i) * cols;
                out[dst..dst + cols].copy_from_slice(&w[src..src + cols]);
            }
        }
    }
    out
}

impl TensorSource for GgufCheckpoint {
    type Error = GgufError;

    fn file(&self, _name: &str) -> PathBuf {
        self.file.path.clone()
    }

    fn contains(&self, name: &str) -> bool {
        self.gguf_name(name)
            .is_some_and(|(g, _)| self.file.tensor(&g).is_some())
    }

    fn shape(&self, name: &str) -> Result<Vec<usize>, GgufError> {
        let (g, _) = self.gguf_name(name).ok_or_else(|| self.missing(name))?;
        let t = self.file.tensor(&g).ok_or_else(|| self.missing(&g))?;
        Ok(t.shape())
    }

    fn read_f32(&self, name: &str) -> Result<Vec<f32>, GgufError> {
        let (g, heads) = self.gguf_name(name).ok_or_else(|| self.missing(name))?;
        let w = self.file.read_f32(&g)?;
        let Some(heads) = heads else { return Ok(w) };
        let shape = self.shape(name)?;
        let (rows, cols) = (shape[0], shape.get(1).copied().unwrap_or(1));
        if heads == 0 || !rows.is_multiple_of(2 * heads) {
            return Err(GgufError::Tensor {
                path: self.file.path.clone(),
                name: g,
                detail: format!("{rows} rows do not split into {heads} heads of even size"),
            });
        }
        Ok(unpermute_rows(&w, heads, cols))
    }
}

struct Meta<'a> {
    file: &'a GgufFile,
}

impl Meta<'_> {
    fn bad(&self, key: &str, detail: String) -> GgufError {
        GgufError::Metadata {
            path: self.file.path.clone(),
            key: key.into(),
            detail,
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.file.metadata.get(key)
    }

    fn opt_usize(&self, key: &str) -> Result<Option<usize>, GgufError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Uint(v)) if *v > 0 => usize::try_from(*v)
                .map(Some)
                .map_err(|_| self.bad(key, format!("{v} is too large"))),
            Some(Value::Int(v)) if *v > 0 => usize::try_from(*v)
                .map(Some)
                .map_err(|_| self.bad(key, format!("{v} is too large"))),
            Some(other) => Err(self.bad(key, format!("{other:?} is not a positive integer"))),
        }
    }

    fn usize(&self, key: &str) -> Result<usize, GgufError> {
        self.opt_usize(key)?
            .ok_or_else(|| self.bad(key, "missing".into()))
    }

    fn opt_f64(&self, key: &str) -> Result<Option<f64>, GgufError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Float(v)) if v.is_finite() && *v > 0.0 => Ok(Some(*v)),
            Some(other) => Err(self.bad(key, format!("{other:?} is not a positive number"))),
        }
    }
}

/// The decoder configuration from `llama.*` metadata.
pub fn decoder_config(file: &GgufFile) -> Result<DecoderConfig, GgufError> {
    let m = Meta { file };
    let arch = match m.get("general.architecture") {
        Some(Value::String(s)) => s.clone(),
        other => return Err(m.bad("general.architecture", format!("{other:?} is not a string"))),
    };
    if arch != "llama" {
        return Err(GgufError::Architecture {
            path: file.path.clone(),
            arch,
        });
    }
    let hidden_size = m.usize("llama.embedding_length")?;
    let heads = m.usize("llama.attention.head_count")?;
    let kv_heads = m
        .opt_usize("llama.attention.head_count_kv")?
        .unwrap_or(heads);
    if !hidden_size.is_multiple_of(heads) {
        return Err(m.bad(
            "llama.attention.head_count",
            format!("{heads} does not divide the width {hidden_size}"),
        ));
    }
    let head_dim = hidden_size / heads;
    if let Some(rot) = m.opt_usize("llama.rope.dimension_count")? {
        if rot != head_dim {
            return Err(m.bad(
                "llama.rope.dimension_count",
                format!("{rot}: partial rotary (head_dim {head_dim}) is not supported"),
            ));
        }
    }
    let vocab_size = match m.opt_usize("llama.vocab_size")? {
        Some(v) => v,
        None => match m.get("tokenizer.ggml.tokens") {
            Some(Value::Array { len, .. }) => *len as usize,
            _ => file
                .tensor("token_embd.weight")
                .and_then(|t| t.dims.get(1).copied())
                .ok_or_else(|| m.bad("llama.vocab_size", "missing".into()))?
                as usize,
        },
    };
    Ok(DecoderConfig {
        family: Family::Llama,
        hidden_size,
        num_attention_heads: heads,
        num_key_value_heads: kv_heads,
        head_dim,
        intermediate_size: m.usize("llama.feed_forward_length")?,
        num_hidden_layers: m.usize("llama.block_count")?,
        rms_norm_eps: m
            .opt_f64("llama.attention.layer_norm_rms_epsilon")?
            .unwrap_or(1e-6),
        rope_theta: m.opt_f64("llama.rope.freq_base")?.unwrap_or(10000.0),
        vocab_size,
        tie_word_embeddings: file.tensor("output.weight").is_none(),
        attention_bias: false,
        qk_norm: false,
        rope_scaling: None,
        rope: RopeScaling::None,
        hidden_act: "silu".into(),
        mlp_bias: false,
        sliding_window: None,
    })
}
