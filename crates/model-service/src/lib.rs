//! A served model: how it is built ([`ModelSpec`]: a built-in model, an ONNX file, or a
//! HuggingFace folder / GGUF file, with its scales calibrated at setup), its verifying key
//! (whose setup record keeps the spec, so the key alone says how to rebuild the model), and
//! the blocking work on it: [`setup`], [`load`] (rebuild from spec and key, digest checked),
//! [`forward`] (the input checked by a forward pass), [`prove`] (the proof file, exactly what
//! `prove-model prove` writes) and [`verify`]. `prove-server` and the audit window prover share
//! it.

use std::path::PathBuf;

use model::{examples, Graph, Shape, Tensor};
use model_import::recipe::{
    decoder_graph, encoder_graph, encoder_inputs, encoder_inputs_from_json, prepare_decoder,
    prepare_encoder, prepare_onnx, prepare_onnx_fixed, DecoderSource, EncoderSource, OnnxFile,
    OnnxInputs,
};
use model_import::{OnnxModel, PrepareError, QuantConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use zkml::proof::ProofFile;
use zkml::prover::Progress;
use zkml::{CommittedModel, KeyFile, ProofConfig, ProofFormat, SetupRecord};

pub use audit::{InferenceInput, InferenceOutput};

pub mod window;

/// How a model is built.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelSpec {
    /// A built-in model (`mlp`, `tiny-mlp`).
    Builtin(String),
    /// An ONNX file on the server's disk, per-channel INT8 weights, 8-bit activations.
    Onnx(PathBuf),
    /// A HuggingFace folder (a BERT encoder, or a Llama / Mistral / Qwen decoder) or a GGUF
    /// file, its first `layers` layers (default all), per-channel INT8 weights.
    Dir { dir: PathBuf, layers: Option<usize> },
}

impl ModelSpec {
    /// Refuses, before any work, a spec naming a missing file or an unknown built-in model.
    pub fn check(&self) -> Result<(), ModelError> {
        match self {
            ModelSpec::Builtin(name) => builtin(name).map(drop),
            ModelSpec::Onnx(path) if !path.is_file() => {
                Err(bad(format!("{}: no such file", path.display())))
            }
            ModelSpec::Dir { dir, .. } if !dir.exists() => {
                Err(bad(format!("{}: no such folder or file", dir.display())))
            }
            _ => Ok(()),
        }
    }

    /// The bytes of weights a setup reads: the ONNX file, the GGUF file, or a folder's
    /// SafeTensors files (0 for built-in models).
    pub fn weight_bytes(&self) -> u64 {
        let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
        match self {
            ModelSpec::Builtin(_) => 0,
            ModelSpec::Onnx(path) => size(path),
            ModelSpec::Dir { dir, .. } if dir.is_file() => size(dir),
            ModelSpec::Dir { dir, .. } => std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
                        .map(|p| size(&p))
                        .sum()
                })
                .unwrap_or(0),
        }
    }
}

/// Why a model or a request cannot be served: the message is the client's.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The request does not fit the model (4xx).
    #[error("{0}")]
    BadRequest(String),
    /// The work failed (a job's error, or 500 for a setup).
    #[error("{0}")]
    Failed(String),
}

/// A preparation error with its causes, as the client's mistake.
fn bad_chain(e: PrepareError) -> ModelError {
    ModelError::BadRequest(format!("{:#}", anyhow::Error::from(e)))
}

fn bad(e: impl std::fmt::Display) -> ModelError {
    ModelError::BadRequest(e.to_string())
}

fn failed(e: impl std::fmt::Display) -> ModelError {
    ModelError::Failed(format!("{e:#}"))
}

/// A model ready to prove: its spec, key and commitment.
pub struct Loaded {
    pub spec: ModelSpec,
    pub key: KeyFile,
    pub committed: CommittedModel,
}

fn onnx_file(path: &std::path::Path, shapes: Vec<Option<Vec<usize>>>) -> OnnxFile<'_> {
    OnnxFile {
        path,
        shapes,
        outputs: vec![],
    }
}

/// Parses an ONNX model's input JSON (an array, or an object keyed by input name).
fn onnx_reals(path: &std::path::Path, value: &Value) -> Result<OnnxInputs, ModelError> {
    let names = OnnxModel::input_names(path).map_err(bad)?;
    OnnxInputs::from_value(&names, value).map_err(bad)
}

/// A built-in model's input: a flat JSON array of reals at the graph's input scale.
fn builtin_input(graph: &Graph, value: &Value) -> Result<Tensor, ModelError> {
    let values: Vec<f64> = serde_json::from_value(value.clone())
        .map_err(|_| bad("input: expected a JSON array of numbers"))?;
    examples::quantise_input(graph, &values).map_err(|e| bad(format!("input: {e}")))
}

fn builtin(name: &str) -> Result<Graph, ModelError> {
    examples::by_name(name).ok_or_else(|| {
        bad(format!(
            "unknown built-in model '{name}' (built-in models: {})",
            examples::NAMES.join(", ")
        ))
    })
}

/// Sets the model up: scales calibrated on `calibration` (its input JSON) or a seeded sample,
/// weights committed, key made.
pub fn setup(
    spec: ModelSpec,
    calibration: Option<&Value>,
    config: ProofConfig,
) -> Result<Loaded, ModelError> {
    spec.check()?;
    let (graph, calib) = match &spec {
        ModelSpec::Builtin(name) => (builtin(name)?, Vec::new()),
        ModelSpec::Onnx(path) => {
            let (shapes, reals) = match calibration {
                Some(v) => {
                    let r = onnx_reals(path, v)?;
                    (r.shapes, Some(r.values))
                }
                None => (vec![], None),
            };
            let quant = QuantConfig::default();
            let p = prepare_onnx(onnx_file(path, shapes), &quant, reals.as_deref(), 1)
                .map_err(|e| bad(format!("{:#}", anyhow::Error::from(e))))?;
            (p.graph, p.inputs)
        }
        ModelSpec::Dir { dir, layers } => dir_setup(dir, *layers, calibration)?,
    };
    let committed = CommittedModel::new(graph, config).map_err(failed)?;
    let key = KeyFile::new(
        committed.vk.clone(),
        SetupRecord {
            calibration: calib,
            settings: vec![("spec".into(), serde_json::to_string(&spec).map_err(failed)?)],
        },
    );
    Ok(Loaded {
        spec,
        key,
        committed,
    })
}

fn encoder_source(dir: &std::path::Path, layers: Option<usize>) -> EncoderSource {
    EncoderSource {
        dir: dir.to_owned(),
        layers,
        quant: QuantConfig::default(),
    }
}

fn decoder_source(dir: &std::path::Path, layers: Option<usize>) -> DecoderSource {
    DecoderSource {
        dir: dir.to_owned(),
        layers,
        seq_len: None,
        quant: QuantConfig::default(),
    }
}

/// A folder's graph calibrated on `calibration` (token ids, or an encoder's
/// `{input_ids, attention_mask}`; seeded ids when absent) and the calibration tensors.
fn dir_setup(
    dir: &std::path::Path,
    layers: Option<usize>,
    calibration: Option<&Value>,
) -> Result<(Graph, Vec<Tensor>), ModelError> {
    let encoder = match dir.is_dir() {
        true => EncoderSource::config(dir).map_err(bad_chain)?,
        false => None,
    };
    let p = match encoder {
        Some(config) => {
            let inputs = match calibration {
                Some(v) => encoder_inputs_from_json(&config, v).map_err(bad_chain)?,
                None => {
                    let vocab = config.vocab_size as f32;
                    let ids: Vec<i64> = model_import::seeded_uniform(1)
                        .take(8)
                        .map(|u| ((u * vocab) as i64).min(config.vocab_size as i64 - 1))
                        .collect();
                    encoder_inputs(&config, &ids, None).map_err(bad_chain)?
                }
            };
            prepare_encoder(&encoder_source(dir, layers), &config, inputs).map_err(bad_chain)?
        }
        None => {
            let ids = calibration.map(token_ids).transpose()?;
            let ids = ids.map(|v| v.into_iter().map(|i| i as usize).collect());
            prepare_decoder(&decoder_source(dir, layers), ids, 1).map_err(bad_chain)?
        }
    };
    Ok((p.graph, p.inputs))
}

/// A JSON array of token ids.
fn token_ids(v: &Value) -> Result<Vec<i64>, ModelError> {
    let ids: Vec<u32> = serde_json::from_value(v.clone())
        .map_err(|_| bad("input: expected a JSON array of token ids"))?;
    Ok(ids.into_iter().map(i64::from).collect())
}

/// Rebuilds a model from its spec and key (after a restart), checking it is the key's.
pub fn load(spec: ModelSpec, key: KeyFile) -> Result<Loaded, ModelError> {
    let graph = match &spec {
        ModelSpec::Builtin(name) => builtin(name)?,
        ModelSpec::Onnx(path) => model_import::onnx_graph(
            onnx_file(path, vec![]),
            &QuantConfig::default(),
            Some(&key.setup.calibration),
        )
        .map_err(|e| failed(anyhow::Error::from(e)))?,
        ModelSpec::Dir { dir, layers } => {
            let calib = &key.setup.calibration;
            let graph = match EncoderSource::config(dir).map_err(failed)? {
                Some(config) => encoder_graph(&encoder_source(dir, *layers), &config, calib),
                None => decoder_graph(&decoder_source(dir, *layers), calib.first()).map(|g| g.0),
            };
            graph.map_err(|e| failed(anyhow::Error::from(e)))?
        }
    };
    let committed = CommittedModel::new(graph, key.vk.config).map_err(failed)?;
    if committed.vk.digest() != key.vk.digest() {
        return Err(failed(
            "the model on disk is no longer the one set up (its file changed)",
        ));
    }
    Ok(Loaded {
        spec,
        key,
        committed,
    })
}

/// The forward pass of a prove request: the graph run on `input` (refused as a bad request
/// when the input does not fit).
pub fn forward(m: &Loaded, input: &Value) -> Result<model_import::Prepared, ModelError> {
    match &m.spec {
        ModelSpec::Builtin(_) => {
            let x = builtin_input(&m.committed.graph, input)?;
            model_import::Prepared::execute(m.committed.graph.clone(), x).map_err(bad)
        }
        ModelSpec::Onnx(path) => {
            let r = onnx_reals(path, input)?;
            let calib = &m.key.setup.calibration;
            let p = prepare_onnx_fixed(
                onnx_file(path, vec![]),
                &QuantConfig::default(),
                calib,
                Some(&r.values),
                0,
            )
            .map_err(|e| bad(format!("{:#}", anyhow::Error::from(e))))?;
            if p.graph != m.committed.graph {
                return Err(failed("the rebuilt graph is not the committed one"));
            }
            Ok(p)
        }
        ModelSpec::Dir { dir, .. } => {
            let inputs = match EncoderSource::config(dir).map_err(failed)? {
                Some(config) => encoder_inputs_from_json(&config, input).map_err(bad_chain)?,
                None => {
                    let ids = token_ids(input)?;
                    vec![Tensor::new(Shape::new(ids.len(), 1), ids)]
                }
            };
            let calib = &m.key.setup.calibration;
            if let Some((x, c)) = inputs.iter().zip(calib).find(|(x, c)| x.shape != c.shape) {
                return Err(bad(format!(
                    "input: {} tokens, the model was set up for {}",
                    x.data.len(),
                    c.data.len()
                )));
            }
            let graph = m.committed.graph.clone();
            let trace = model::execute::execute_all(&graph, &inputs).map_err(bad)?;
            Ok(model_import::Prepared {
                graph,
                inputs,
                trace,
                report: None,
                outputs: Vec::new(),
            })
        }
    }
}

/// Proves `input` on the model: the proof file's bytes, as `prove-model prove` writes them.
pub fn prove(m: &Loaded, input: &Value, progress: &dyn Progress) -> Result<Vec<u8>, ModelError> {
    prove_prepared(m, forward(m, input)?, progress)
}

/// Proves an input already run by [`forward`] (or [`infer`]).
pub fn prove_prepared(
    m: &Loaded,
    p: model_import::Prepared,
    progress: &dyn Progress,
) -> Result<Vec<u8>, ModelError> {
    let (y, proof) =
        zkml::prove_executed(&m.committed, &p.inputs, &p.trace, progress).map_err(failed)?;
    let more = p.trace.more_outputs(&p.graph);
    let file = ProofFile::new_all(&m.committed, p.inputs, y, proof).with_more_outputs(more);
    file.encode(ProofFormat::Binary).map_err(failed)
}

/// Runs the model on `input` without proving: the record of the inference and the executed
/// forward pass (to prove later with [`prove_prepared`]).
pub fn infer(
    m: &Loaded,
    input: &Value,
) -> Result<(InferenceInput, InferenceOutput, model_import::Prepared), ModelError> {
    let p = forward(m, input)?;
    let g = &p.graph;
    let ids: Vec<usize> = std::iter::once(g.output)
        .chain(g.more_outputs.iter().copied())
        .collect();
    let output = InferenceOutput {
        tensors: ids.iter().map(|&id| p.trace.values[id].clone()).collect(),
        scale_bits: ids.iter().map(|&id| g.nodes[id].scale).collect(),
    };
    let record = InferenceInput {
        request: input.clone(),
        tensors: p.inputs.clone(),
    };
    Ok((record, output, p))
}

/// Checks proof-file bytes against the key: `Ok(())` when valid, the reason otherwise.
pub fn verify(key: &KeyFile, bytes: &[u8]) -> Result<(), String> {
    let file = ProofFile::decode(bytes).map_err(|e| e.to_string())?;
    zkml::verify_outputs(&key.vk, &file.inputs(), &file.outputs(), &file.proof)
        .map_err(|e| e.to_string())
}

/// Writes `bytes` to `path` through a synced temporary file in the same folder and a rename,
/// so a crash leaves the old file or the new one, never half of one.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
