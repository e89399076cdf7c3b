//! BERT-family encoders from a HuggingFace folder (`config.json` with `model_type: "bert"` and
//! `BertModel` SafeTensors, with or without the `bert.` prefix of task heads), lowered to the
//! same real-valued [`Plan`] an ONNX encoder becomes: word + position + token-type embeddings
//! and their LayerNorm; per layer, masked multi-head self-attention (per head: a column slice
//! of Q, K and V, `Q K^T / sqrt(d_h)`, the padded keys masked out, softmax, `P V`), the output
//! projection, residual and post-LayerNorm, a GELU FFN, residual and post-LayerNorm.
//!
//! The inputs are the token ids (a column, exact integers) and the attention mask (a row of
//! 0 / 1). The outputs are `last_hidden_state` (one row per token) and `sentence_embedding`,
//! the mean of the unmasked rows (sentence-transformers' mean pooling): the mask row times the
//! hidden states, over the number of kept tokens; divided by its norm when the folder's
//! `modules.json` ends in `Normalize` ([`normalizes`]).

use std::path::Path;

use model::Func;
use serde::Deserialize;

use super::checkpoint::TensorFolder;
use super::HfError;
use crate::plan::{Plan, PlanInput, PlanOp, PlanOutput, Step, StepId};

/// The fields of a BERT `config.json` the encoder needs.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct BertConfig {
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "two")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "gelu")]
    pub hidden_act: String,
}

fn two() -> usize {
    2
}

fn default_eps() -> f64 {
    1e-12
}

fn gelu() -> String {
    "gelu".into()
}

impl BertConfig {
    /// Reads `dir/config.json` when it describes a BERT encoder; `None` for another model
    /// type (a decoder).
    pub fn detect(dir: &Path) -> Result<Option<Self>, HfError> {
        let file = dir.join("config.json");
        let text = std::fs::read_to_string(&file).map_err(|source| HfError::Io {
            path: file.clone(),
            source,
        })?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| HfError::Json {
            file: file.clone(),
            detail: e.to_string(),
        })?;
        if value.get("model_type").and_then(|t| t.as_str()) != Some("bert") {
            return Ok(None);
        }
        let config: Self = serde_json::from_value(value).map_err(|e| HfError::Json {
            file: file.clone(),
            detail: e.to_string(),
        })?;
        let field = |field: &'static str, detail: String| HfError::ConfigField {
            file: file.clone(),
            field,
            detail,
        };
        let heads = config.num_attention_heads;
        if heads == 0 || !config.hidden_size.is_multiple_of(heads) {
            return Err(field(
                "num_attention_heads",
                format!("{heads} does not divide hidden_size {}", config.hidden_size),
            ));
        }
        let dh = config.hidden_size / heads;
        if dh < 2 || !dh.is_power_of_two() {
            return Err(field(
                "num_attention_heads",
                format!("head width {dh} is not a power of two (the proved head slices need one)"),
            ));
        }
        if !matches!(
            config.hidden_act.as_str(),
            "gelu" | "gelu_new" | "gelu_pytorch_tanh"
        ) {
            return Err(field(
                "hidden_act",
                format!(
                    "'{}' (gelu, gelu_new or gelu_pytorch_tanh)",
                    config.hidden_act
                ),
            ));
        }
        Ok(Some(config))
    }
}

/// Builds the plan of the first `layers` layers for `seq` tokens, with `kept` unmasked tokens
/// (the mean pooling's divisor).
pub fn bert_plan(
    dir: &Path,
    config: &BertConfig,
    layers: usize,
    seq: usize,
    kept: usize,
) -> Result<Plan, HfError> {
    if layers > config.num_hidden_layers {
        return Err(HfError::LayerCount {
            asked: layers,
            available: config.num_hidden_layers,
        });
    }
    let folder = TensorFolder::open(dir)?;
    let prefix = if folder.contains("bert.embeddings.word_embeddings.weight") {
        "bert."
    } else {
        ""
    };
    let mut b = Builder {
        folder: &folder,
        prefix,
        steps: Vec::new(),
        d: config.hidden_size,
        seq,
    };
    b.build(config, layers, kept)
}

/// Whether the folder's sentence-transformers pipeline (`modules.json`) ends in `Normalize`:
/// the sentence embedding is then divided by its norm, as the pipeline does.
pub fn normalizes(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("modules.json")) else {
        return false;
    };
    let Ok(serde_json::Value::Array(modules)) = serde_json::from_str(&text) else {
        return false;
    };
    modules.iter().any(|m| {
        m.get("type")
            .and_then(|t| t.as_str())
            .is_some_and(|t| t.ends_with(".Normalize"))
    })
}

struct Builder<'a> {
    folder: &'a TensorFolder,
    prefix: &'a str,
    steps: Vec<Step>,
    d: usize,
    seq: usize,
}

impl Builder<'_> {
    fn push(&mut self, op: PlanOp, rows: usize, cols: usize, name: &str) -> StepId {
        self.steps.push(Step {
            op,
            rows,
            cols,
            name: name.into(),
        });
        self.steps.len() - 1
    }

    /// Tensor `name` (under the prefix) with its shape checked.
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, HfError> {
        let full = format!("{}{name}", self.prefix);
        let meta = self.folder.meta(&full)?;
        if meta.shape != shape {
            return Err(HfError::Shape {
                file: meta.file,
                name: full,
                got: meta.shape,
                expected: shape.to_vec(),
            });
        }
        self.folder.read_f32(&full)
    }

    /// `x . W^T + b` for a HuggingFace `Linear` (`weight` is `out x in`).
    fn linear(
        &mut self,
        x: StepId,
        name: &str,
        n_in: usize,
        n_out: usize,
    ) -> Result<StepId, HfError> {
        let w = self.tensor(&format!("{name}.weight"), &[n_out, n_in])?;
        let mut weight = vec![0f32; n_in * n_out];
        for (o, row) in w.chunks_exact(n_in).enumerate() {
            for (i, &v) in row.iter().enumerate() {
                weight[i * n_out + o] = v;
            }
        }
        let bias = self.tensor(&format!("{name}.bias"), &[n_out])?;
        let rows = self.steps[x].rows;
        let y = self.push(
            PlanOp::MatMul {
                input: x,
                weight,
                k: n_in,
            },
            rows,
            n_out,
            name,
        );
        Ok(self.push(PlanOp::Bias { input: y, bias }, rows, n_out, name))
    }

    /// LayerNorm `name` (`weight` / `bias`, or the old `gamma` / `beta`).
    fn layer_norm(&mut self, x: StepId, name: &str, eps: f64) -> Result<StepId, HfError> {
        let d = self.d;
        let old = self
            .folder
            .contains(&format!("{}{name}.gamma", self.prefix));
        let (g, b) = if old {
            ("gamma", "beta")
        } else {
            ("weight", "bias")
        };
        let gain = self.tensor(&format!("{name}.{g}"), &[d])?;
        let bias = self.tensor(&format!("{name}.{b}"), &[d])?;
        let op = PlanOp::LayerNorm {
            input: x,
            gain,
            bias,
            eps: eps as f32,
        };
        Ok(self.push(op, self.seq, d, name))
    }

    fn build(&mut self, config: &BertConfig, layers: usize, kept: usize) -> Result<Plan, HfError> {
        let (d, seq) = (self.d, self.seq);
        if seq == 0 || seq > config.max_position_embeddings {
            return Err(HfError::ConfigField {
                file: self.folder.dir.join("config.json"),
                field: "max_position_embeddings",
                detail: format!(
                    "{} positions, the input has {seq} tokens",
                    config.max_position_embeddings
                ),
            });
        }
        let ids = self.push(PlanOp::Input { index: 0 }, seq, 1, "input_ids");
        let mask = self.push(PlanOp::Input { index: 1 }, 1, seq, "attention_mask");
        let table = self.tensor("embeddings.word_embeddings.weight", &[config.vocab_size, d])?;
        let e = self.push(PlanOp::Embedding { ids, table }, seq, d, "embeddings");
        // Position and token-type embeddings (type 0) are one constant per entry.
        let pos = self.tensor(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, d],
        )?;
        let types = self.tensor(
            "embeddings.token_type_embeddings.weight",
            &[config.type_vocab_size, d],
        )?;
        let bias: Vec<f32> = (0..seq * d).map(|i| pos[i] + types[i % d]).collect();
        let e = self.push(PlanOp::Bias { input: e, bias }, seq, d, "embeddings");
        let mut x = self.layer_norm(e, "embeddings.LayerNorm", config.layer_norm_eps)?;
        let func = match config.hidden_act.as_str() {
            "gelu" => Func::Gelu,
            _ => Func::GeluTanh,
        };
        for l in 0..layers {
            let p = format!("encoder.layer.{l}");
            x = self.attention(x, mask, &p, config)?;
            let h = self.linear(
                x,
                &format!("{p}.intermediate.dense"),
                d,
                config.intermediate_size,
            )?;
            let h = self.push(
                PlanOp::Func { input: h, func },
                seq,
                config.intermediate_size,
                &p,
            );
            let h = self.linear(h, &format!("{p}.output.dense"), config.intermediate_size, d)?;
            let r = self.push(PlanOp::Add { lhs: x, rhs: h }, seq, d, &p);
            x = self.layer_norm(r, &format!("{p}.output.LayerNorm"), config.layer_norm_eps)?;
        }
        // Mean pooling: the mask row times the hidden states, over the kept tokens.
        let op = PlanOp::MatMulAct {
            lhs: mask,
            rhs: x,
            transpose_rhs: false,
        };
        let sum = self.push(op, 1, d, "sentence_embedding");
        let c = 1.0 / kept.max(1) as f32;
        let mut pooled = self.push(PlanOp::Scale { input: sum, c }, 1, d, "sentence_embedding");
        if normalizes(&self.folder.dir) {
            let op = PlanOp::L2Normalize { input: pooled };
            pooled = self.push(op, 1, d, "sentence_embedding");
        }
        let output = |name: &str, step, dims: Vec<usize>| PlanOutput {
            name: name.into(),
            step,
            dims,
            nchw: None,
        };
        Ok(Plan {
            steps: std::mem::take(&mut self.steps),
            outputs: vec![
                output("last_hidden_state", x, vec![1, seq, d]),
                output("sentence_embedding", pooled, vec![1, d]),
            ],
            inputs: vec![
                PlanInput {
                    len: seq,
                    ints: true,
                    nchw: None,
                },
                PlanInput {
                    len: seq,
                    ints: true,
                    nchw: None,
                },
            ],
        })
    }

    /// Masked multi-head self-attention with the output projection, residual and
    /// post-LayerNorm.
    fn attention(
        &mut self,
        x: StepId,
        mask: StepId,
        p: &str,
        config: &BertConfig,
    ) -> Result<StepId, HfError> {
        let (d, seq) = (self.d, self.seq);
        let heads = config.num_attention_heads;
        let dh = d / heads;
        let a = format!("{p}.attention.self");
        let q = self.linear(x, &format!("{a}.query"), d, d)?;
        let k = self.linear(x, &format!("{a}.key"), d, d)?;
        let v = self.linear(x, &format!("{a}.value"), d, d)?;
        let mut parts = Vec::with_capacity(heads);
        for h in 0..heads {
            let slice = |input| PlanOp::ColumnSlice {
                input,
                start: h * dh,
                len: dh,
            };
            let (qh, kh, vh) = (slice(q), slice(k), slice(v));
            let qh = self.push(qh, seq, dh, &a);
            let kh = self.push(kh, seq, dh, &a);
            let vh = self.push(vh, seq, dh, &a);
            let op = PlanOp::MatMulAct {
                lhs: qh,
                rhs: kh,
                transpose_rhs: true,
            };
            let s = self.push(op, seq, seq, &a);
            let c = 1.0 / (dh as f32).sqrt();
            let s = self.push(PlanOp::Scale { input: s, c }, seq, seq, &a);
            let s = self.push(
                PlanOp::KeyMask {
                    input: s,
                    keep: mask,
                },
                seq,
                seq,
                &a,
            );
            let pr = self.push(PlanOp::Softmax { input: s }, seq, seq, &a);
            let op = PlanOp::MatMulAct {
                lhs: pr,
                rhs: vh,
                transpose_rhs: false,
            };
            parts.push(self.push(op, seq, dh, &a));
        }
        let ctx = match parts.as_slice() {
            [one] => *one,
            _ => self.push(PlanOp::ConcatColumns { parts }, seq, d, &a),
        };
        let o = format!("{p}.attention.output");
        let y = self.linear(ctx, &format!("{o}.dense"), d, d)?;
        let r = self.push(PlanOp::Add { lhs: x, rhs: y }, seq, d, &o);
        self.layer_norm(r, &format!("{o}.LayerNorm"), config.layer_norm_eps)
    }
}
