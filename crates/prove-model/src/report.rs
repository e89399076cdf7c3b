//! `prove --report FILE`: the run as JSON for scripts and dashboards: every output as real
//! numbers (flat, row-major, keyed by name) with its shape, the error against `f32` (and, for
//! an ONNX model, per output and per lowered layer; for a decoder, per block), timings and
//! sizes.

use std::path::Path;

use anyhow::{Context, Result};
use model::Graph;
use model_import::recipe::{Comparison, NamedOutput};
use serde_json::{json, Map, Value};
use zkml::proof::ProofFile;

/// One public output as printed and reported: its name, shape (the model's), integers in
/// the model's order (a channels-last feature map back in NCHW) and fractional bits.
pub struct Shown {
    pub name: String,
    pub dims: Vec<usize>,
    pub ints: Vec<i64>,
    pub scale: u32,
    /// `N, C, H, W` of a feature map proved channels-last.
    pub nchw: Option<[usize; 4]>,
}

impl Shown {
    /// The real values.
    pub fn reals(&self) -> Vec<f64> {
        let s = (1u64 << self.scale) as f64;
        self.ints.iter().map(|&v| v as f64 / s).collect()
    }
}

/// The proof file's public outputs as the model names them: `named` (an imported model's
/// outputs: one of the graph's outputs, or an input passed through), or the graph's one
/// output called `fallback` when `named` is empty.
pub fn shown_outputs(
    graph: &Graph,
    file: &ProofFile,
    named: &[NamedOutput],
    fallback: &str,
) -> Result<Vec<Shown>> {
    if named.is_empty() {
        let o = &file.output;
        return Ok(vec![Shown {
            name: fallback.into(),
            dims: vec![o.shape.rows, o.shape.cols],
            ints: o.data.clone(),
            scale: graph.nodes[graph.output].scale,
            nchw: None,
        }]);
    }
    let inputs = file.inputs();
    let input_nodes = graph.input_nodes();
    named
        .iter()
        .map(|n| {
            let tensor = if n.node == graph.output {
                Some(&file.output)
            } else if let Some(k) = graph.more_outputs.iter().position(|&o| o == n.node) {
                file.more_outputs.get(k)
            } else {
                let k = input_nodes.iter().position(|&i| i == n.node);
                k.and_then(|k| inputs.get(k))
            };
            let tensor =
                tensor.with_context(|| format!("output '{}' is not in the proof file", n.name))?;
            Ok(Shown {
                name: n.name.clone(),
                dims: n.dims.clone(),
                ints: onnx_order(&tensor.data, n.nchw),
                scale: graph.nodes[n.node].scale,
                nchw: n.nchw,
            })
        })
        .collect()
}

/// What one `prove` run produced.
pub struct Run<'a> {
    pub model: &'a str,
    pub digest: String,
    /// Every public output.
    pub outputs: &'a [Shown],
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
            let per_output: Map<String, Value> = (r.outputs.iter())
                .map(|o| {
                    let e = json!({"max_abs_error": o.max_abs_err, "max_rel_error": o.max_rel_err});
                    (o.name.clone(), e)
                })
                .collect();
            m.insert("output_errors".into(), Value::Object(per_output));
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
    let mut outputs = Map::new();
    let mut shapes = Map::new();
    let mut scales = Map::new();
    for o in run.outputs {
        outputs.insert(o.name.clone(), json!(o.reals()));
        shapes.insert(o.name.clone(), json!(o.dims));
        scales.insert(o.name.clone(), json!(o.scale));
    }
    let mut m = Map::new();
    m.insert("model".into(), json!(run.model));
    m.insert("model_digest".into(), json!(run.digest));
    m.insert("outputs".into(), Value::Object(outputs));
    m.insert("shapes".into(), Value::Object(shapes));
    m.insert("output_scale_bits".into(), Value::Object(scales));
    m.extend(errors(run.comparison));
    m.insert("commit_ms".into(), json!(run.commit_ms));
    m.insert("prove_ms".into(), json!(run.prove_ms));
    m.insert("proof_bytes".into(), json!(run.proof_bytes));
    m.insert("file_bytes".into(), json!(run.file_bytes));
    m.insert("security_bits".into(), json!(run.security_bits));
    let text = serde_json::to_string_pretty(&Value::Object(m))?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}
