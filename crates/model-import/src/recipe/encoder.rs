//! BERT encoders from a HuggingFace folder ([`crate::hf::bert`]): token ids and an attention
//! mask in, `last_hidden_state` and the mean-pooled `sentence_embedding` out, proved from the
//! token ids. The activation scales are calibrated on the given input (as for ONNX models), so
//! a verifier rebuilds the graph from the proof's public inputs ([`encoder_graph`]). The
//! dual-track report compares the integer outputs with the checkpoint's real-valued forward
//! pass (the plan in `f64`).

use std::path::{Path, PathBuf};

use model::execute::execute_all;
use model::{Graph, Shape, Tensor};

use super::{Comparison, NamedOutput, PrepareError, Prepared};
use crate::hf::bert::{bert_plan, BertConfig};
use crate::quantize::{quantise, Quantised};
use crate::recipe::error::CheckpointError;
use crate::report::{LayerError, OutputValues, Report};
use crate::QuantConfig;

/// A BERT folder, how many layers to use and how to quantise it.
#[derive(Clone, Debug)]
pub struct EncoderSource {
    pub dir: PathBuf,
    /// The first `layers` layers (default: all).
    pub layers: Option<usize>,
    pub quant: QuantConfig,
}

impl EncoderSource {
    /// The encoder of `dir` when its `config.json` describes a BERT model; `None` otherwise.
    pub fn config(dir: &Path) -> Result<Option<BertConfig>, PrepareError> {
        if !dir.join("config.json").is_file() {
            return Ok(None);
        }
        BertConfig::detect(dir).map_err(|e| open_err(dir, e))
    }
}

fn open_err(dir: &Path, e: crate::hf::HfError) -> PrepareError {
    PrepareError::Open {
        dir: dir.into(),
        source: Box::new(CheckpointError::Hf(e)),
    }
}

/// The two public inputs: the ids as a column, the mask as a row (all ones when `None`).
/// Refused: no ids, an id outside the vocabulary, a mask of another length or not 0 / 1, a
/// mask with no kept token.
pub fn encoder_inputs(
    config: &BertConfig,
    ids: &[i64],
    mask: Option<&[i64]>,
) -> Result<Vec<Tensor>, PrepareError> {
    let bad = |detail: String| PrepareError::EncoderInput { detail };
    let seq = ids.len();
    if seq == 0 {
        return Err(bad("no token ids".into()));
    }
    if let Some((i, id)) = (ids.iter().enumerate())
        .find(|(_, &id)| usize::try_from(id).map_or(true, |id| id >= config.vocab_size))
    {
        return Err(bad(format!(
            "token id {id} at {i} is outside the vocabulary of {}",
            config.vocab_size
        )));
    }
    let mask = mask.map_or_else(|| vec![1; seq], <[i64]>::to_vec);
    if mask.len() != seq {
        return Err(bad(format!(
            "{} token ids but an attention mask of {}",
            seq,
            mask.len()
        )));
    }
    if mask.iter().any(|&m| m != 0 && m != 1) {
        return Err(bad(
            "the attention mask holds values other than 0 and 1".into()
        ));
    }
    if !mask.contains(&1) {
        return Err(bad("the attention mask keeps no token".into()));
    }
    Ok(vec![
        Tensor::new(Shape::new(seq, 1), ids.to_vec()),
        Tensor::new(Shape::new(1, seq), mask),
    ])
}

/// The encoder's input tensors from JSON: an array of token ids (every token kept), or an
/// object `{"input_ids": [...], "attention_mask": [...]}` (the mask optional; each array flat
/// or nested once, as a batch of one); then [`encoder_inputs`].
pub fn encoder_inputs_from_json(
    config: &BertConfig,
    value: &serde_json::Value,
) -> Result<Vec<Tensor>, PrepareError> {
    use serde_json::Value;
    let bad = |detail: String| PrepareError::EncoderInput { detail };
    let ints = |v: &Value, what: &str| -> Result<Vec<i64>, PrepareError> {
        let v = match v.as_array().map(Vec::as_slice) {
            Some([inner @ Value::Array(_)]) => inner,
            _ => v,
        };
        let items = v
            .as_array()
            .ok_or_else(|| bad(format!("{what} is not an array")))?;
        items
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_i64()
                    .ok_or_else(|| bad(format!("{what}[{i}] is {x}, not an integer")))
            })
            .collect()
    };
    let (ids, mask) = match value {
        Value::Array(_) => (ints(value, "the input")?, None),
        Value::Object(map) => {
            if let Some(k) = map
                .keys()
                .find(|k| !matches!(k.as_str(), "input_ids" | "attention_mask"))
            {
                return Err(bad(format!(
                    "unknown key '{k}' (an encoder takes input_ids and attention_mask)"
                )));
            }
            let ids = map
                .get("input_ids")
                .ok_or_else(|| bad("no input_ids".into()))?;
            let mask = map
                .get("attention_mask")
                .map(|m| ints(m, "attention_mask"))
                .transpose()?;
            (ints(ids, "input_ids")?, mask)
        }
        _ => {
            return Err(bad(
                "expected an array of token ids or an object with input_ids".into(),
            ))
        }
    };
    encoder_inputs(config, &ids, mask.as_deref())
}

struct Built {
    plan: crate::plan::Plan,
    calib: Vec<Vec<f64>>,
    q: Quantised,
}

fn build(
    src: &EncoderSource,
    config: &BertConfig,
    inputs: &[Tensor],
) -> Result<Built, PrepareError> {
    let [ids, mask] = inputs else {
        return Err(PrepareError::EncoderInput {
            detail: format!("{} input tensors, an encoder takes 2", inputs.len()),
        });
    };
    let seq = ids.data.len();
    let kept = mask.data.iter().filter(|&&m| m == 1).count();
    let layers = src.layers.unwrap_or(config.num_hidden_layers);
    let plan = bert_plan(&src.dir, config, layers, seq, kept).map_err(|e| open_err(&src.dir, e))?;
    let reals: Vec<f32> = (ids.data.iter().chain(&mask.data))
        .map(|&v| v as f32)
        .collect();
    let calib = plan.eval(&reals);
    let name = src
        .dir
        .file_name()
        .map_or_else(|| "bert".into(), |n| n.to_string_lossy().into_owned());
    let q = quantise(
        &name,
        &src.dir.display().to_string(),
        &plan,
        &calib,
        &src.quant,
    )?;
    Ok(Built { plan, calib, q })
}

/// The graph [`prepare_encoder`] builds for the public inputs `inputs` (ids, mask), for
/// verifying.
pub fn encoder_graph(
    src: &EncoderSource,
    config: &BertConfig,
    inputs: &[Tensor],
) -> Result<Graph, PrepareError> {
    Ok(build(src, config, inputs)?.q.graph)
}

/// Builds, runs and compares the encoder on `inputs` ([`encoder_inputs`]).
pub fn prepare_encoder(
    src: &EncoderSource,
    config: &BertConfig,
    inputs: Vec<Tensor>,
) -> Result<Prepared, PrepareError> {
    let Built { plan, calib, q } = build(src, config, &inputs)?;
    let trace = execute_all(&q.graph, &inputs).map_err(|source| PrepareError::Exec {
        model: q.graph.name.clone(),
        source,
    })?;
    let value = |node: usize, scale: u32| -> Vec<f64> {
        let s = (1u64 << scale) as f64;
        trace.values[node]
            .data
            .iter()
            .map(|&v| v as f64 / s)
            .collect()
    };
    let outputs = (plan.outputs.iter())
        .zip(&q.outputs)
        .map(|(o, &(node, scale))| OutputValues {
            name: o.name.clone(),
            dims: o.dims.clone(),
            reference: calib[o.step].iter().map(|&v| v as f32).collect(),
            quantised: value(node, scale),
            lowered: calib[o.step].clone(),
        })
        .collect();
    let mut report = Report::new(outputs);
    report.layers = (plan.steps.iter())
        .zip(&q.step_nodes)
        .zip(&calib)
        .filter(|((step, _), _)| !matches!(step.op, crate::plan::PlanOp::Input { .. }))
        .map(|((step, &(node, scale)), want)| {
            LayerError::new(&step.name, &trace.values[node].data, scale, want)
        })
        .collect();
    let named = (plan.outputs.iter())
        .zip(&q.outputs)
        .map(|(o, &(node, _))| NamedOutput {
            name: o.name.clone(),
            dims: o.dims.clone(),
            nchw: None,
            node,
        })
        .collect();
    Ok(Prepared {
        graph: q.graph,
        inputs,
        trace,
        report: Some(Comparison::Onnx(report)),
        outputs: named,
    })
}
