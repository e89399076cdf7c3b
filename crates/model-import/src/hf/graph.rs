//! A loaded decoder as a proved [`Graph`]: token ids -> embedding -> the loaded layers as
//! [`model::transformer`] blocks -> final RMSNorm -> LM head, whose output is the logits
//! (`seq_len x vocab_size`, at [`ACT_SCALE`] fractional bits).
//!
//! **Scales.** As [`BlockWeights::random`]: the embedding table and the RMSNorm gains at
//! [`ACT_SCALE`] (the activations' scale; gains are re-rounded from their 2^-16), projections
//! at the common scale of their quantisation ([`QuantTensor::to_weight`], exact; at least one
//! bit so that the rescale after the product is a real shift). The builder's projections
//! rescale by the weight's own scale, so INT8 columns with fine scales lose nothing.
//!
//! Qwen2's q / k / v biases and Qwen3's per-head `q_norm` / `k_norm` map onto the block's
//! optional biases and per-head norms.
//!
//! **Not supported yet** ([`DecoderError::Unsupported`], naming the config field): a bias on
//! the o projection, RoPE scaling other than `linear` and `llama3`, an MLP activation other than SiLU or GELU, MLP biases, a sequence
//! longer than an active sliding window, a `head_dim` that is not a power of two of at least
//! 2, and vocabularies above `2^18` ([`model::softmax::MAX_VOCAB`]).

use std::borrow::Cow;

use model::examples::ACT_SCALE;
use model::norm::NormRange;
use model::reference::{calibrate_norms, embed_f32, rms_norm, Matrix};
use model::transformer::{BlockNormRanges, BlockWeights, InnerLogs, TransformerConfig};
use model::{
    ExecError, Func, Graph, GraphBuilder, GraphError, NodeId, Shape, Tensor, Weight, WeightId,
};
use thiserror::Error;

use super::{DecoderWeights, LayerWeights, QuantTensor};

/// Largest vocabulary the embedding takes (token ids are public and only select rows).
pub const MAX_VOCAB: usize = model::softmax::MAX_VOCAB;

/// Why a loaded decoder cannot become a graph, or a token sequence cannot be its input.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DecoderError {
    #[error(
        "{feature} is not supported by the transformer block builder yet \
         (config field '{field}': {value})"
    )]
    Unsupported {
        feature: &'static str,
        field: &'static str,
        value: String,
    },
    #[error("no token ids: the model needs at least one")]
    NoTokens,
    #[error("token id {id} at position {index} is not below vocab_size {vocab}")]
    TokenRange {
        index: usize,
        id: usize,
        vocab: usize,
    },
    #[error("{got} token ids for a model built for seq_len {seq_len}")]
    TokenCount { got: usize, seq_len: usize },
    #[error("the output is {got:?} (rows, cols), the reference {expected:?}")]
    OutputShape {
        expected: (usize, usize),
        got: (usize, usize),
    },
    #[error("the f32 reference has {layers} layers (or another vocabulary), the model {expected}")]
    ReferenceMismatch { layers: usize, expected: usize },
    #[error("building the decoder graph: {0}")]
    Graph(#[from] GraphError),
    #[error("running the decoder graph: {0}")]
    Exec(#[from] ExecError),
}

/// A decoder in the builder's terms, for a fixed sequence length.
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderModel {
    /// The graph's name: family and layer count (`llama, 2 of 2 layers`).
    pub name: String,
    pub config: TransformerConfig,
    pub vocab: usize,
    /// `vocab x d_model`: at [`ACT_SCALE`], or with tied embeddings at the LM head's scale
    /// (the embedding's rows are then rescaled to [`ACT_SCALE`] in the graph).
    pub embedding: Weight,
    pub blocks: Vec<BlockWeights>,
    /// `1 x d_model` at [`ACT_SCALE`].
    pub final_norm: Weight,
    /// `d_model x vocab`; `None` with tied embeddings: the head is the embedding table's
    /// transpose ([`model::Op::MatMulTransposed`]), committed once.
    pub lm_head: Option<Weight>,
    /// Bounds of the final RMSNorm's input ([`Self::calibrate`]).
    pub final_norm_range: NormRange,
    /// `log2` magnitudes (real units, with margin) of the final norm's output and of the
    /// logits, which choose the norm output's scale; `None` until calibrated.
    pub final_logs: Option<(i32, i32)>,
}

fn unsupported(feature: &'static str, field: &'static str, value: impl ToString) -> DecoderError {
    DecoderError::Unsupported {
        feature,
        field,
        value: value.to_string(),
    }
}

/// Refuses what [`GraphBuilder::transformer_block`] does not build yet, naming the field.
pub fn check_supported(w: &DecoderWeights) -> Result<(), DecoderError> {
    let c = &w.config;
    if w.layers.iter().any(|l| l.o_bias.is_some()) {
        return Err(unsupported(
            "a bias on the o projection (o_proj.bias)",
            "attention_bias",
            c.attention_bias,
        ));
    }
    if let Some(kind) = c.rope_scaling.as_deref() {
        if !matches!(kind, "linear" | "llama3") {
            return Err(unsupported(
                "RoPE scaling other than linear and llama3",
                "rope_scaling",
                kind,
            ));
        }
    }
    if mlp_activation(&c.hidden_act).is_none() {
        return Err(unsupported(
            "an MLP activation other than silu, gelu and gelu_pytorch_tanh",
            "hidden_act",
            &c.hidden_act,
        ));
    }
    if c.mlp_bias {
        return Err(unsupported(
            "biases on the MLP projections",
            "mlp_bias",
            true,
        ));
    }
    if c.head_dim < 2 || !c.head_dim.is_power_of_two() {
        return Err(unsupported(
            "a head dimension that is not a power of two >= 2",
            "head_dim",
            c.head_dim,
        ));
    }
    if c.vocab_size > MAX_VOCAB {
        return Err(unsupported(
            "a vocabulary above 2^18 tokens",
            "vocab_size",
            c.vocab_size,
        ));
    }
    Ok(())
}

/// A projection at its common scale, at least one bit.
fn matrix(t: &QuantTensor) -> Weight {
    t.to_weight_at(t.scale().max(1))
}

/// `w` transposed (a `d_model x vocab` head as the `vocab x d_model` table of tied
/// embeddings).
fn transposed(w: &Weight) -> Weight {
    let (r, c) = (w.shape.rows, w.shape.cols);
    Weight {
        name: "model.embed_tokens.weight (tied lm_head)".into(),
        shape: Shape::new(c, r),
        scale: w.scale,
        data: (0..r * c).map(|i| w.data[(i % r) * c + i / r]).collect(),
    }
}

/// A `vocab x d_model` table as the real `d_model x vocab` matrix of its transpose.
fn transposed_f32(table: &Weight) -> Matrix {
    let m = Matrix::of(table);
    let (r, c) = (m.rows, m.cols);
    Matrix {
        rows: c,
        cols: r,
        data: (0..r * c).map(|i| m.data[(i % r) * c + i / r]).collect(),
    }
}

/// The gain for the graph: re-rounded at [`ACT_SCALE`].
fn gain(t: &QuantTensor) -> Weight {
    t.to_weight_at(ACT_SCALE)
}

/// One layer as builder weights: gains and biases (vectors at the activations' scale) through
/// `vector`, projections through `proj`.
pub(crate) fn block_weights(
    layer: &LayerWeights,
    vector: impl Fn(&QuantTensor) -> Weight,
    proj: impl Fn(&QuantTensor) -> Weight,
) -> BlockWeights {
    BlockWeights {
        attn_norm: vector(&layer.input_norm),
        ffn_norm: vector(&layer.post_attention_norm),
        wq: proj(&layer.q_proj),
        wk: proj(&layer.k_proj),
        wv: proj(&layer.v_proj),
        wo: proj(&layer.o_proj),
        w_gate: proj(&layer.gate_proj),
        w_up: proj(&layer.up_proj),
        w_down: proj(&layer.down_proj),
        q_bias: layer.q_bias.as_ref().map(&vector),
        k_bias: layer.k_bias.as_ref().map(&vector),
        v_bias: layer.v_bias.as_ref().map(&vector),
        q_norm: layer.q_norm.as_ref().map(&vector),
        k_norm: layer.k_norm.as_ref().map(&vector),
        ranges: BlockNormRanges::default(),
    }
}

/// The gated MLP's activation for `hidden_act` (`gelu_new` and `gelu_fast` are the tanh form).
pub fn mlp_activation(hidden_act: &str) -> Option<Func> {
    match hidden_act {
        "silu" | "swish" => Some(Func::Silu),
        "gelu" => Some(Func::Gelu),
        "gelu_pytorch_tanh" | "gelu_new" | "gelu_fast" => Some(Func::GeluTanh),
        _ => None,
    }
}

/// The builder's configuration for `w` at `seq_len`.
pub fn transformer_config(w: &DecoderWeights, seq_len: usize) -> TransformerConfig {
    let c = &w.config;
    TransformerConfig {
        d_model: c.hidden_size,
        n_heads: c.num_attention_heads,
        n_kv_heads: c.num_key_value_heads,
        head_dim: c.head_dim,
        ffn_dim: c.intermediate_size,
        rope_theta: c.rope_theta,
        rope_scaling: c.rope,
        mlp_act: mlp_activation(&c.hidden_act).unwrap_or(Func::Silu),
        eps: c.rms_norm_eps,
        seq_len,
    }
}

impl DecoderModel {
    /// The integer weights of `w` for sequences of `seq_len` tokens (checked by
    /// [`check_supported`]).
    pub fn new(w: &DecoderWeights, seq_len: usize) -> Result<Self, DecoderError> {
        check_supported(w)?;
        if seq_len == 0 {
            return Err(DecoderError::NoTokens);
        }
        if let Some(window) = w.config.sliding_window.filter(|&win| seq_len > win) {
            return Err(unsupported(
                "a sequence longer than the attention window (sliding attention)",
                "sliding_window",
                window,
            ));
        }
        let c = &w.config;
        let family = format!("{:?}", c.family).to_lowercase();
        Ok(Self {
            name: format!(
                "{family}, {} of {} layers",
                w.layers.len(),
                c.num_hidden_layers
            ),
            config: transformer_config(w, seq_len),
            vocab: c.vocab_size,
            // Tied: the head's quantised values, at no fewer fractional bits than the
            // activations (the embedding's rows must not be coarser than untied ones).
            embedding: match w.lm_head_tied {
                true => transposed(&w.lm_head.to_weight_at(w.lm_head.scale().max(ACT_SCALE))),
                false => w.embed.to_weight_at(ACT_SCALE),
            },
            blocks: w
                .layers
                .iter()
                .map(|l| block_weights(l, gain, matrix))
                .collect(),
            final_norm: gain(&w.final_norm),
            lm_head: (!w.lm_head_tied).then(|| matrix(&w.lm_head)),
            final_norm_range: NormRange::default(),
            final_logs: None,
        })
    }

    /// Sets the fixed-point ranges of every RMSNorm from the `f32` run of this model on `ids`
    /// (the calibration input; the verifier repeats it on the proof's public token ids, so both
    /// build the same graph). Norms keep their defaults where the run has no finite
    /// statistics.
    pub fn calibrate(&mut self, ids: &[usize]) -> Result<(), DecoderError> {
        self.input(ids)?;
        let x = embed_f32(&self.act_embedding(), ids).ok_or(DecoderError::NoTokens)?;
        let (x, out) = calibrate_norms(&self.config, &x, &mut self.blocks);
        if let Some(r) = out {
            self.final_norm_range = r;
        }
        let h = rms_norm(&x, &Matrix::of(&self.final_norm), self.config.eps);
        let logits = h.matmul(&self.head_f32());
        let log = |m: &Matrix| NormRange::observe(&m.data, m.cols).map(|r| r.abs_max_log2);
        self.final_logs = log(&h).zip(log(&logits));
        Ok(())
    }

    /// The proved graph: input `seq_len x 1` token ids, output the logits.
    pub fn graph(&self) -> Result<Graph, DecoderError> {
        Ok(self.graph_with_blocks()?.0)
    }

    /// [`Self::graph`] and the node of each block's output (the hidden state after it).
    pub fn graph_with_blocks(&self) -> Result<(Graph, Vec<NodeId>), DecoderError> {
        let cfg = &self.config;
        let mut b = GraphBuilder::new(&self.name, Shape::new(cfg.seq_len, 1), 0)?;
        let (mut x, table) = self.embed(&mut b)?;
        let mut outs = Vec::with_capacity(self.blocks.len());
        for w in &self.blocks {
            x = b.transformer_block(x, cfg, w)?;
            outs.push(x);
        }
        let logits = self.head(&mut b, x, table)?;
        Ok((b.build(logits)?, outs))
    }

    /// The embedding of the graph's token ids at [`ACT_SCALE`], and the table's weight id.
    pub(crate) fn embed(&self, b: &mut GraphBuilder) -> Result<(NodeId, WeightId), DecoderError> {
        let e = b.embedding(0, self.embedding.clone())?;
        let table = b.weight_of(e).ok_or(DecoderError::NoTokens)?;
        if self.embedding.scale == ACT_SCALE {
            return Ok((e, table));
        }
        // A tied table at the head's finer scale: rows rounded to the activations' scale, by a
        // wide rescale when an entry would leave the 16-bit window.
        let shift = self.embedding.scale.saturating_sub(ACT_SCALE);
        let max = self
            .embedding
            .data
            .iter()
            .map(|v| v.abs())
            .max()
            .unwrap_or(0);
        let wide = max >> shift >= 1 << 15;
        Ok((b.to_scale(e, ACT_SCALE, wide)?, table))
    }

    /// The embedding table as the blocks see it: at [`ACT_SCALE`], a tied table's entries
    /// rounded as the graph's rescale rounds them (what the `f32` references embed).
    pub(crate) fn act_embedding(&self) -> Cow<'_, Weight> {
        let shift = self.embedding.scale.saturating_sub(ACT_SCALE);
        if shift == 0 {
            return Cow::Borrowed(&self.embedding);
        }
        let mut w = self.embedding.clone();
        w.scale = ACT_SCALE;
        w.data = self
            .embedding
            .data
            .iter()
            .map(|&v| model::execute::rescale_value(v, shift).0)
            .collect();
        Cow::Owned(w)
    }

    /// The LM head as real numbers (`d_model x vocab`).
    pub(crate) fn head_f32(&self) -> Matrix {
        match &self.lm_head {
            Some(w) => Matrix::of(w),
            None => transposed_f32(&self.embedding),
        }
    }

    /// The LM head's weight scale.
    fn head_scale(&self) -> u32 {
        self.lm_head.as_ref().unwrap_or(&self.embedding).scale
    }

    /// The final norm and the LM head on the hidden state `x`: the logits at [`ACT_SCALE`].
    /// `table` is the embedding's weight, which a tied head reads transposed.
    pub(crate) fn head(
        &self,
        b: &mut GraphBuilder,
        x: NodeId,
        table: WeightId,
    ) -> Result<NodeId, DecoderError> {
        // The norm's output at the finest scale its magnitude and the head's accumulator allow.
        let s_h = self.final_logs.map_or(ACT_SCALE, |(h, logits)| {
            let acc = 29 - self.head_scale() as i32 - logits;
            InnerLogs::scale(Some(h)).min(acc.max(ACT_SCALE as i32) as u32)
        });
        let range = &self.final_norm_range;
        let eps = self.config.eps;
        let h = b.rms_norm_auto(x, self.final_norm.clone(), eps, range, s_h)?;
        let logits = match &self.lm_head {
            Some(w) => b.matmul_blocks(h, w)?,
            None => b.matmul_transposed(h, table)?,
        };
        // Logits of 2^7 real units or more leave the 16-bit window at ACT_SCALE: wide.
        let wide = self
            .final_logs
            .is_some_and(|(_, logits)| logits >= 15 - ACT_SCALE as i32);
        Ok(b.to_scale(logits, ACT_SCALE, wide)?)
    }

    /// `ids` as the graph's input: exactly `seq_len` of them, each below the vocabulary size.
    pub fn input(&self, ids: &[usize]) -> Result<Tensor, DecoderError> {
        if ids.is_empty() {
            return Err(DecoderError::NoTokens);
        }
        if ids.len() != self.config.seq_len {
            return Err(DecoderError::TokenCount {
                got: ids.len(),
                seq_len: self.config.seq_len,
            });
        }
        self.ids_tensor(ids)
    }

    /// `ids` as a `len x 1` tensor, each below the vocabulary size.
    pub(crate) fn ids_tensor(&self, ids: &[usize]) -> Result<Tensor, DecoderError> {
        let data = ids
            .iter()
            .enumerate()
            .map(|(index, &id)| match i64::try_from(id) {
                Ok(v) if id < self.vocab => Ok(v),
                _ => Err(DecoderError::TokenRange {
                    index,
                    id,
                    vocab: self.vocab,
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tensor::new(Shape::new(ids.len(), 1), data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hf::synth::tiny_llama_config;
    use crate::hf::DecoderConfig;
    use crate::QuantConfig;

    fn weights(edit: impl FnOnce(&mut serde_json::Value)) -> DecoderWeights {
        let mut v = tiny_llama_config(false);
        edit(&mut v);
        let config = DecoderConfig::parse(&v.to_string(), "config.json".as_ref()).unwrap();
        let t = |rows, cols| QuantTensor {
            name: "t".into(),
            shape: Shape::new(rows, cols),
            values: crate::QuantValues::I32(vec![1; rows * cols]),
            exps: crate::Exponents::Tensor(8),
        };
        let (h, f) = (config.hidden_size, config.intermediate_size);
        let layer = LayerWeights {
            q_proj: t(h, config.q_dim()),
            k_proj: t(h, config.kv_dim()),
            v_proj: t(h, config.kv_dim()),
            o_proj: t(config.q_dim(), h),
            q_bias: None,
            k_bias: None,
            v_bias: None,
            o_bias: None,
            q_norm: None,
            k_norm: None,
            gate_proj: t(h, f),
            up_proj: t(h, f),
            down_proj: t(f, h),
            input_norm: t(1, h),
            post_attention_norm: t(1, h),
        };
        DecoderWeights {
            embed: t(config.vocab_size, h),
            lm_head: t(h, config.vocab_size),
            final_norm: t(1, h),
            layers: vec![layer],
            config,
            quant: QuantConfig::default(),
            lm_head_tied: false,
        }
    }

    #[test]
    fn unsupported_features_name_their_field() {
        let cases: [(&str, serde_json::Value, &str); 6] = [
            ("hidden_act", "relu2".into(), "hidden_act"),
            ("mlp_bias", true.into(), "mlp_bias"),
            ("sliding_window", 2.into(), "sliding_window"),
            ("head_dim", 24.into(), "head_dim"),
            ("vocab_size", ((1 << 18) + 1).into(), "vocab_size"),
            (
                "rope_scaling",
                serde_json::json!({"rope_type": "yarn", "factor": 4.0}),
                "rope_scaling",
            ),
        ];
        for (key, value, want) in cases {
            let w = weights(|v| v[key] = value);
            match DecoderModel::new(&w, 4) {
                Err(DecoderError::Unsupported { field, .. }) => assert_eq!(field, want),
                other => panic!("{key}: {other:?}"),
            }
        }
        let mut w = weights(|_| {});
        w.layers[0].o_bias = Some(w.final_norm.clone());
        assert!(matches!(
            DecoderModel::new(&w, 4),
            Err(DecoderError::Unsupported {
                field: "attention_bias",
                ..
            })
        ));
        assert!(DecoderModel::new(&weights(|_| {}), 4).is_ok());
    }

    #[test]
    fn token_ids_are_checked() {
        let m = DecoderModel::new(&weights(|_| {}), 3).unwrap();
        assert_eq!(m.input(&[0, 5, 255]).unwrap().data, vec![0, 5, 255]);
        assert!(matches!(
            m.input(&[0, 256, 1]),
            Err(DecoderError::TokenRange {
                index: 1,
                id: 256,
                ..
            })
        ));
        assert!(matches!(
            m.input(&[1, 2]),
            Err(DecoderError::TokenCount { got: 2, seq_len: 3 })
        ));
        assert!(matches!(m.input(&[]), Err(DecoderError::NoTokens)));
        assert!(matches!(
            DecoderModel::new(&weights(|_| {}), 0),
            Err(DecoderError::NoTokens)
        ));
    }
}
