//! `prove --report FILE`: the run as JSON for scripts and dashboards: the output as real
//! numbers (flat, row-major) with its shape, its error against `f32` (and, for an ONNX model,
//! per lowered layer; for a decoder, per block), timings and sizes.

use std::path::Path;

use anyhow::{Context, Result};
use model::Tensor;
use model_import::recipe::Comparison;
use serde_json::{json, Map, Value};

/// What one `prove` run produced.
pub struct Run<'a> {
    pub model: &'a str,
    pub digest: String,
    pub output: &'a Tensor,
    /// The output's `N, C, H, W` where it is a channels-last feature map.
    pub output_nchw: Option<[usize; 4]>,
    /// Fractional bits of the output.
    pub out_scale: u32,
    pub comparison: Option<&'a Comparison>,
    pub commit_ms: f64,
    pub prove_ms: f64,
    pub proof_bytes: usize,
    pub file_bytes: usize,
    pub security_bits: u32,
}

fn errors(c: Option<&Comparison>) -> Map<String, Value> {
    let mut m = Map::new();
    match c {
        Some(Comparison::Onnx(r)) => {
            m.insert("max_abs_error".into(), json!(r.max_abs_err));
            m.insert("max_rel_error".into(), json!(r.max_rel_err));
            m.insert("top1_agrees".into(), json!(r.top1_agrees));
            let layers: Vec<Value> = r
                .layers
                .iter()
                .map(|l| {
                    json!({"name": l.name, "max_abs_error": l.max_abs_err,
                           "max_rel_error": l.max_rel_err})
                })
                .collect();
            m.insert("layers".into(), Value::Array(layers));
        }
        Some(Comparison::Decoder(t)) => {
            let e = |r: &model::reference::ErrorReport| json!({"max_abs_error": r.max_abs, "max_rel_error": r.max_rel, "rms": r.rms});
            m.insert("max_abs_error".into(), json!(t.quantised.max_abs));
            m.insert("max_rel_error".into(), json!(t.quantised.max_rel));
            m.insert("vs_checkpoint".into(), json!(t.checkpoint.as_ref().map(e)));
            m.insert("top1_agree_positions".into(), json!(t.top1_agree));
            m.insert("next_tokens".into(), json!(t.top1));
            let blocks: Vec<Value> = t.blocks.iter().map(e).collect();
            m.insert("layers".into(), Value::Array(blocks));
        }
        // A built-in model has no f32 reference.
        _ => {
            m.insert("max_abs_error".into(), Value::Null);
        }
    }
    m
}

/// The output's values in the model's order: a channels-last feature map back to NCHW.
pub fn onnx_order(values: &[i64], nchw: Option<[usize; 4]>) -> Vec<i64> {
    match nchw {
        Some(d) if values.len() == d.iter().product::<usize>() => {
            model_import::plan::nhwc_to_nchw(values, d)
        }
        _ => values.to_vec(),
    }
}

/// Writes the report of `run` to `path`.
pub fn write(path: &Path, run: &Run<'_>) -> Result<()> {
    let name = match run.comparison {
        Some(Comparison::Decoder(_)) => "logits",
        _ => "output",
    };
    let s = (1u64 << run.out_scale) as f64;
    let reals: Vec<f64> = onnx_order(&run.output.data, run.output_nchw)
        .iter()
        .map(|&v| v as f64 / s)
        .collect();
    let shape: Vec<usize> = match run.output_nchw {
        Some(d) => d.to_vec(),
        None => vec![run.output.shape.rows, run.output.shape.cols],
    };
    let mut m = Map::new();
    m.insert("model".into(), json!(run.model));
    m.insert("model_digest".into(), json!(run.digest));
    m.insert("outputs".into(), json!({ name: reals }));
    m.insert("shapes".into(), json!({ name: shape }));
    m.insert("output_scale_bits".into(), json!(run.out_scale));
    m.extend(errors(run.comparison));
    m.insert("commit_ms".into(), json!(run.commit_ms));
    m.insert("prove_ms".into(), json!(run.prove_ms));
    m.insert("proof_bytes".into(), json!(run.proof_bytes));
    m.insert("file_bytes".into(), json!(run.file_bytes));
    m.insert("security_bits".into(), json!(run.security_bits));
    let text = serde_json::to_string_pretty(&Value::Object(m))?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}
