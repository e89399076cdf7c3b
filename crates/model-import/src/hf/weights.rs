//! The tensors of a Llama-style decoder, named as transformers names them, checked against the
//! config and quantised one at a time into [`DecoderWeights`].
//!
//! **Orientation.** A HuggingFace linear weight is `[out, in]` (`y = x W^T`); ours is the
//! `in x out` matrix of `model`'s `matmul` (`y = x W`), so projections are transposed while
//! they are quantised, and the per-channel (per-group) scales of the strategy then follow the
//! output columns (and the input rows). The embedding stays `vocab x hidden` (rows are looked
//! up); the LM head is `hidden x vocab`, quantised from `lm_head.weight` or, when the config
//! ties the embeddings and the checkpoint has no head, from the embedding.
//!
//! **Vectors** (norm gains, biases) are kept in fixed point at `2^-VECTOR_SCALE_BITS` (`i32`)
//! whatever the strategy; a consumer re-rounds them with [`QuantTensor::to_weight_at`] at the
//! scale it needs (a bias joins a matmul at the product scale).

use std::path::{Path, PathBuf};

use super::{Checkpoint, DecoderConfig, HfError};
use crate::config::{QuantConfig, Strategy};
use crate::qtensor::{quantise_view, MatrixView, QuantTensor, INT4_MAX, INT8_MAX, MIN_EXP};

/// Fractional bits of norm gains and biases.
pub const VECTOR_SCALE_BITS: u32 = 16;

/// What to load and how to quantise it (default: Symmetric8, every layer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Strategy and finest weight scale (`act_scale_bits` is not used here).
    pub quant: QuantConfig,
    /// Load the first `n` layers only (`None`: all of them).
    pub layers: Option<usize>,
}

/// One decoder layer. Matrices are `in x out`; vectors `1 x n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerWeights {
    /// `hidden x (heads * head_dim)`.
    pub q_proj: QuantTensor,
    /// `hidden x (kv_heads * head_dim)`.
    pub k_proj: QuantTensor,
    /// `hidden x (kv_heads * head_dim)`.
    pub v_proj: QuantTensor,
    /// `(heads * head_dim) x hidden`.
    pub o_proj: QuantTensor,
    /// Present when the config has `attention_bias` (Qwen2).
    pub q_bias: Option<QuantTensor>,
    pub k_bias: Option<QuantTensor>,
    pub v_bias: Option<QuantTensor>,
    /// Present when the checkpoint has one (Llama with `attention_bias`).
    pub o_bias: Option<QuantTensor>,
    /// `1 x head_dim`, Qwen3 only.
    pub q_norm: Option<QuantTensor>,
    pub k_norm: Option<QuantTensor>,
    /// `hidden x intermediate`.
    pub gate_proj: QuantTensor,
    /// `hidden x intermediate`.
    pub up_proj: QuantTensor,
    /// `intermediate x hidden`.
    pub down_proj: QuantTensor,
    /// `1 x hidden`.
    pub input_norm: QuantTensor,
    /// `1 x hidden`.
    pub post_attention_norm: QuantTensor,
}

/// A quantised decoder: embedding, the first layers, final norm and LM head.
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderWeights {
    pub config: DecoderConfig,
    pub quant: QuantConfig,
    /// `vocab x hidden`.
    pub embed: QuantTensor,
    pub layers: Vec<LayerWeights>,
    /// `1 x hidden`.
    pub final_norm: QuantTensor,
    /// `hidden x vocab`.
    pub lm_head: QuantTensor,
    /// Whether `lm_head` was quantised from the embedding (tied, no `lm_head.weight`).
    pub lm_head_tied: bool,
}

impl DecoderWeights {
    /// Every tensor, in load order.
    pub fn tensors(&self) -> impl Iterator<Item = &QuantTensor> {
        let layers = self.layers.iter().flat_map(|l| {
            [
                Some(&l.q_proj),
                Some(&l.k_proj),
                Some(&l.v_proj),
                Some(&l.o_proj),
                l.q_bias.as_ref(),
                l.k_bias.as_ref(),
                l.v_bias.as_ref(),
                l.o_bias.as_ref(),
                l.q_norm.as_ref(),
                l.k_norm.as_ref(),
                Some(&l.gate_proj),
                Some(&l.up_proj),
                Some(&l.down_proj),
                Some(&l.input_norm),
                Some(&l.post_attention_norm),
            ]
            .into_iter()
            .flatten()
        });
        std::iter::once(&self.embed)
            .chain(layers)
            .chain([&self.final_norm, &self.lm_head])
    }

    /// Number of parameters held.
    pub fn n_params(&self) -> usize {
        self.tensors().map(|t| t.values.len()).sum()
    }
}

/// Opens the checkpoint folder `dir` and quantises its decoder (see [`LoadOptions`]).
pub fn load_decoder(dir: &Path, options: &LoadOptions) -> Result<DecoderWeights, HfError> {
    Checkpoint::open(dir)?.load_decoder(options)
}

/// Named `f32` tensors in HuggingFace's names and shapes (`[out, in]` linear weights), from
/// which [`quantise_decoder`] builds [`DecoderWeights`]: a SafeTensors [`Checkpoint`], or a
/// GGUF file mapped to these names ([`crate::gguf`]).
pub trait TensorSource {
    /// The error of reading a tensor; quantisation errors convert into it.
    type Error: From<HfError>;
    /// The file holding `name` (or the folder), for error messages.
    fn file(&self, name: &str) -> PathBuf;
    /// Whether `name` is present.
    fn contains(&self, name: &str) -> bool;
    /// The logical shape of `name`.
    fn shape(&self, name: &str) -> Result<Vec<usize>, Self::Error>;
    /// The values of `name`, row-major in its logical shape, all finite.
    fn read_f32(&self, name: &str) -> Result<Vec<f32>, Self::Error>;
}

impl TensorSource for Checkpoint {
    type Error = HfError;
    fn file(&self, name: &str) -> PathBuf {
        self.meta(name)
            .map_or_else(|_| self.dir.clone(), |m| m.file)
    }
    fn contains(&self, name: &str) -> bool {
        self.tensors.contains(name)
    }
    fn shape(&self, name: &str) -> Result<Vec<usize>, HfError> {
        Ok(self.meta(name)?.shape)
    }
    fn read_f32(&self, name: &str) -> Result<Vec<f32>, HfError> {
        self.tensors.read_f32(name)
    }
}

impl Checkpoint {
    /// Quantises the decoder, one tensor at a time.
    pub fn load_decoder(&self, options: &LoadOptions) -> Result<DecoderWeights, HfError> {
        quantise_decoder(self, &self.config, options)
    }
}

/// Quantises the decoder `config` describes from `src`, one tensor at a time.
pub fn quantise_decoder<S: TensorSource>(
    src: &S,
    config: &DecoderConfig,
    options: &LoadOptions,
) -> Result<DecoderWeights, S::Error> {
    options.quant.validate().map_err(HfError::from)?;
    let c = config;
    let n_layers = match options.layers {
        Some(n) if n > c.num_hidden_layers => {
            return Err(HfError::LayerCount {
                asked: n,
                available: c.num_hidden_layers,
            }
            .into())
        }
        Some(n) => n,
        None => c.num_hidden_layers,
    };
    let q = Quantise {
        src,
        config: c,
        quant: options.quant,
    };
    let embed = q.matrix(
        "model.embed_tokens.weight",
        c.vocab_size,
        c.hidden_size,
        false,
    )?;
    let layers = (0..n_layers)
        .map(|i| q.layer(i))
        .collect::<Result<Vec<_>, _>>()?;
    let final_norm = q.vector("model.norm.weight", c.hidden_size)?;
    let lm_head_tied = c.tie_word_embeddings && !src.contains("lm_head.weight");
    let head_src = if lm_head_tied {
        "model.embed_tokens.weight"
    } else {
        "lm_head.weight"
    };
    let mut lm_head = q.matrix(head_src, c.hidden_size, c.vocab_size, true)?;
    lm_head.name = "lm_head.weight".into();
    Ok(DecoderWeights {
        config: c.clone(),
        quant: options.quant,
        embed,
        layers,
        final_norm,
        lm_head,
        lm_head_tied,
    })
}

struct Quantise<'a, S> {
    src: &'a S,
    config: &'a DecoderConfig,
    quant: QuantConfig,
}

impl<S: TensorSource> Quantise<'_, S> {
    /// Reads `name`, checks its shape and finiteness, and quantises it.
    fn read(&self, name: &str, hf_shape: &[usize]) -> Result<Vec<f32>, S::Error> {
        let shape = self.src.shape(name)?;
        if shape != hf_shape {
            return Err(HfError::Shape {
                file: self.src.file(name),
                name: name.into(),
                expected: hf_shape.to_vec(),
                got: shape,
            }
            .into());
        }
        self.src.read_f32(name)
    }

    /// `|w| < limit` for every value, or a range error at `scale`.
    fn check_range(&self, name: &str, w: &[f32], limit: f64, scale: u32) -> Result<(), S::Error> {
        match w.iter().find(|v| f64::from(v.abs()) >= limit) {
            Some(&value) => Err(HfError::Range {
                file: self.src.file(name),
                name: name.into(),
                value,
                scale,
            }
            .into()),
            None => Ok(()),
        }
    }

    /// A `rows x cols` matrix; `transposed`: stored as HuggingFace's `[cols, rows]`.
    fn matrix(
        &self,
        name: &str,
        rows: usize,
        cols: usize,
        transposed: bool,
    ) -> Result<QuantTensor, S::Error> {
        let hf_shape = if transposed {
            [cols, rows]
        } else {
            [rows, cols]
        };
        let w = self.read(name, &hf_shape)?;
        let cap = self.quant.weight_scale_bits;
        let limit = match self.quant.strategy {
            Strategy::Direct => 2f64.powi(31 - cap as i32),
            Strategy::Symmetric8 => f64::from(INT8_MAX) * 2f64.powi(-MIN_EXP),
            Strategy::Int4 { .. } => f64::from(INT4_MAX) * 2f64.powi(-MIN_EXP),
        };
        self.check_range(name, &w, limit, cap)?;
        let view = MatrixView {
            src: &w,
            rows,
            cols,
            transposed,
        };
        Ok(quantise_view(name, view, self.quant.strategy, cap))
    }

    /// A `1 x len` vector at [`VECTOR_SCALE_BITS`].
    fn vector(&self, name: &str, len: usize) -> Result<QuantTensor, S::Error> {
        let w = self.read(name, &[len])?;
        self.check_range(
            name,
            &w,
            2f64.powi(31 - VECTOR_SCALE_BITS as i32),
            VECTOR_SCALE_BITS,
        )?;
        let view = MatrixView {
            src: &w,
            rows: 1,
            cols: len,
            transposed: false,
        };
        Ok(quantise_view(
            name,
            view,
            Strategy::Direct,
            VECTOR_SCALE_BITS,
        ))
    }

    fn opt_vector(
        &self,
        name: &str,
        len: usize,
        wanted: bool,
    ) -> Result<Option<QuantTensor>, S::Error> {
        wanted.then(|| self.vector(name, len)).transpose()
    }

    fn layer(&self, i: usize) -> Result<LayerWeights, S::Error> {
        let c = self.config;
        let (h, qd, kvd, f) = (c.hidden_size, c.q_dim(), c.kv_dim(), c.intermediate_size);
        let p = format!("model.layers.{i}.");
        let attn = |n: &str| format!("{p}self_attn.{n}");
        let mlp = |n: &str| format!("{p}mlp.{n}");
        let bias = c.attention_bias;
        let o_bias = self.src.contains(&attn("o_proj.bias"));
        Ok(LayerWeights {
            q_proj: self.matrix(&attn("q_proj.weight"), h, qd, true)?,
            k_proj: self.matrix(&attn("k_proj.weight"), h, kvd, true)?,
            v_proj: self.matrix(&attn("v_proj.weight"), h, kvd, true)?,
            o_proj: self.matrix(&attn("o_proj.weight"), qd, h, true)?,
            q_bias: self.opt_vector(&attn("q_proj.bias"), qd, bias)?,
            k_bias: self.opt_vector(&attn("k_proj.bias"), kvd, bias)?,
            v_bias: self.opt_vector(&attn("v_proj.bias"), kvd, bias)?,
            o_bias: self.opt_vector(&attn("o_proj.bias"), h, o_bias)?,
            q_norm: self.opt_vector(&attn("q_norm.weight"), c.head_dim, c.qk_norm)?,
            k_norm: self.opt_vector(&attn("k_norm.weight"), c.head_dim, c.qk_norm)?,
            gate_proj: self.matrix(&mlp("gate_proj.weight"), h, f, true)?,
            up_proj: self.matrix(&mlp("up_proj.weight"), h, f, true)?,
            down_proj: self.matrix(&mlp("down_proj.weight"), f, h, true)?,
            input_norm: self.vector(&format!("{p}input_layernorm.weight"), h)?,
            post_attention_norm: self.vector(&format!("{p}post_attention_layernorm.weight"), h)?,
        })
    }
}
