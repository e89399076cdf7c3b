//! Imports ONNX models into the quantised graph IR of [`model`], and the weights of
//! HuggingFace SafeTensors decoders for the transformer builder.
//!
//! tract parses the file, infers shapes for a fixed input shape and folds constants; its
//! decluttered typed graph is then lowered onto our op set as a real-valued [`plan::Plan`]
//! ([`lower`]), whose f64 forward pass on a calibration input sets the activation scales, and
//! quantised into a [`model::Graph`] ([`quantize`], configured by [`QuantConfig`]). The f32
//! run of the original model by tract and the integer run of the graph give a dual-track
//! [`Report`].
//!
//! Import is deterministic: the same file, configuration and calibration input give the same
//! graph, hence the same model digest, which is how a verifier rebuilds what the prover proved.
//!
//! Supported: Gemm / MatMul with a constant weight (any transposition tract folds into its
//! einsum), Add / Sub / Mul / Div with a constant (bias, scalar, per-column) or between two
//! activations (Add, Sub, Mul), Relu, Sigmoid, Tanh, Exp, Gelu in its Erf form, and
//! Flatten / Reshape / Squeeze / Unsqueeze / Identity as relabellings. Convolutional nets are
//! lowered onto the same proved ops, on the flattened NCHW row: Conv (2-D, group 1, any
//! stride / padding / dilation) as one matmul with the unrolled kernel matrix, MaxPool as
//! selection matmuls and `max(a, b) = b + relu(a - b)`, AveragePool / GlobalAveragePool /
//! ReduceSum / ReduceMean as a summation matmul and a constant factor, a Transpose that moves
//! data as a permutation matmul; unrolled matrices above [`lower::MAX_UNROLLED`] entries are
//! refused ([`ImportError::Unrolled`]). LayerNormalization, and its written-out
//! ReduceMean / Sub / Pow / Sqrt / Div chain, becomes `model`'s `layer_norm` over the last
//! axis. Softmax over the last axis is `model`'s proved row softmax. Products of two
//! activations (attention's `Q K^T` and `P V`, as MatMul or Einsum, batched over heads) are
//! proved per head ([`lower`]'s `attention`); an additive mask `(1 - mask) * c` on the scores
//! becomes a bounded key mask. A model may have several inputs, reals or integers (token ids,
//! masks: exact, at scale 0); a Gather from a constant table by integer ids is the proved
//! embedding, and a constant of an activation's full shape (position embeddings) a full
//! bias. Concat of activations
//! (a constant part whose rows agree joins as a bias), Slice (with steps, reversed) and Gather
//! with constant indices along axes inside the row are column slices / column
//! concatenations where the block is aligned to a power of two, exact selection matmuls
//! otherwise. Anything else (LogSoftmax, a Softmax or Slice across rows, Gather into a
//! constant table by computed indices) is an [`ImportError::Unsupported`] naming the
//! operator, the node and the file.
//!
//! **SafeTensors** ([`hf`]): a folder with `config.json` and `.safetensors` shards of a
//! Llama, Mistral, Qwen2 or Qwen3 decoder becomes a typed [`DecoderConfig`] and
//! [`DecoderWeights`] (embedding, the first `n` layers, final norm, LM head), each tensor read,
//! decoded (`F32`, `F16`, `BF16`, `I8` or packed INT4 with scales) and quantised on its own,
//! so peak memory is the quantised model plus one tensor. [`load_decoder`] is the entry point.
//! [`hf::DecoderModel`] makes them a proved graph from token ids to logits, with an `f32` dual
//! track ([`hf::track`]).
//!
//! Strategies ([`Strategy`]): `direct` fixed point, `symmetric8` per-channel INT8, `int4`
//! group-wise INT4 (groups of 32 or 64 input rows), all with power-of-two scales that fold
//! exactly into one graph weight ([`qtensor`]).
//!
//! **Recipes** ([`recipe`]): a model file or folder and an input made into a graph, its input
//! tensor, its one integer forward pass and the dual-track report ([`prepare_onnx`],
//! [`prepare_decoder`]), and the same graph rebuilt for a verifier ([`onnx_graph`],
//! [`decoder_graph`]). The CLI and a server share them.
//!
//! Modules: [`source`] (tract loading, f32 run), [`lower`], [`plan`], [`quantize`],
//! [`qtensor`], [`hf`], [`report`], [`recipe`], [`config`], [`error`].
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod config;
pub mod error;
pub mod gguf;
pub mod hf;
pub mod lower;
pub mod plan;
pub mod qtensor;
pub mod quantize;
pub mod recipe;
pub mod report;
pub mod source;
pub mod tokenizer;

use std::path::Path;

use model::execute::execute_all;
use model::{Graph, Tensor, Trace};

pub use config::{QuantConfig, Strategy};
pub use error::ImportError;
pub use hf::{load_decoder, DecoderConfig, DecoderWeights, HfError, LayerWeights, LoadOptions};
pub use plan::Plan;
pub use qtensor::{Exponents, QuantTensor, QuantValues};
pub use recipe::{
    decoder_graph, onnx_graph, prepare_decoder, prepare_onnx, Comparison, DecoderSource,
    PrepareError, Prepared,
};
pub use report::{LayerError, OutputError, OutputValues, Report};
pub use source::OnnxModel;

/// An imported model: the source, its lowering and the quantised graph.
#[derive(Debug, Clone)]
pub struct Imported {
    pub source: OnnxModel,
    pub plan: Plan,
    pub graph: Graph,
    pub config: QuantConfig,
    /// Per plan step: the graph node holding its value and the node's scale.
    pub step_nodes: Vec<(model::NodeId, u32)>,
    /// Per plan output: the node holding it and its scale (an input node for an output
    /// passed through).
    pub output_nodes: Vec<(model::NodeId, u32)>,
}

impl OnnxModel {
    /// Lowers and quantises the model with scales calibrated on `calib` (real input values,
    /// as many as [`OnnxModel::input_len`]). Fails if an intermediate value of the quantised
    /// graph leaves its range on `calib`.
    pub fn import(self, config: &QuantConfig, calib: &[f32]) -> Result<Imported, ImportError> {
        let xs = quantise_inputs(&self, config, calib)?;
        Ok(self.import_traced(config, calib, &xs)?.0)
    }

    /// [`Self::import`], keeping the integer forward pass that checks the graph: the trace of
    /// the graph on `xs`, the quantised calibration inputs (normally
    /// [`quantise_inputs`]`(calib)`, or the tensors `calib` was [`dequantise_inputs`]d from,
    /// which is the same). A prover reports on and proves this trace instead of running the
    /// graph again.
    pub fn import_traced(
        self,
        config: &QuantConfig,
        calib: &[f32],
        xs: &[Tensor],
    ) -> Result<(Imported, Trace), ImportError> {
        config.validate()?;
        self.check_input(calib)?;
        let plan = lower::lower(&self)?;
        let values = plan.eval(calib);
        let q = quantize::quantise(&self.name, &self.file, &plan, &values, config)?;
        let (graph, step_nodes, output_nodes) = (q.graph, q.step_nodes, q.outputs);
        let trace = execute_all(&graph, xs).map_err(|source| ImportError::Exec {
            file: self.file.clone(),
            source,
        })?;
        let imported = Imported {
            source: self,
            plan,
            graph,
            config: *config,
            step_nodes,
            output_nodes,
        };
        Ok((imported, trace))
    }
}

/// Loads `path` and imports it (see [`OnnxModel::import`]).
pub fn import_onnx(
    path: &Path,
    config: &QuantConfig,
    calib: &[f32],
) -> Result<Imported, ImportError> {
    OnnxModel::load(path)?.import(config, calib)
}

/// `input` as the graph's input tensor, for a model with one input ([`quantise_inputs`]).
pub fn quantise_input(
    src: &OnnxModel,
    config: &QuantConfig,
    input: &[f32],
) -> Result<Tensor, ImportError> {
    let mut xs = quantise_inputs(src, config, input)?;
    if xs.len() != 1 {
        return Err(ImportError::Structure {
            file: src.file.clone(),
            detail: format!("{} inputs where one was expected", xs.len()),
        });
    }
    Ok(xs.remove(0))
}

/// `input` (every input's values, concatenated in order) as the graph's input tensors, each
/// in its 2-D view ([`OnnxModel::input_views`]): reals as `round(x * 2^act_scale_bits)`,
/// checked against the activation range; integers exact, at scale 0.
pub fn quantise_inputs(
    src: &OnnxModel,
    config: &QuantConfig,
    input: &[f32],
) -> Result<Vec<Tensor>, ImportError> {
    config.validate()?;
    src.check_input(input)?;
    let mut at = 0;
    let mut out = Vec::with_capacity(src.inputs.len());
    for ((spec, vals), (rows, cols)) in src
        .inputs
        .iter()
        .zip(src.split_input(input))
        .zip(src.input_views())
    {
        let data = if spec.ints {
            vals.iter().map(|&v| v as i64).collect()
        } else {
            let q = quantise_reals(vals, at, config.act_scale_bits)?;
            match spec.nchw {
                Some(d) => plan::nchw_to_nhwc(&q, d),
                None => q,
            }
        };
        at += spec.len();
        out.push(Tensor::new(model::Shape::new(rows, cols), data));
    }
    Ok(out)
}

/// Reals at `scale` fractional bits, checked against the activation range (`offset` is the
/// index of the first in the whole input, for errors).
fn quantise_reals(input: &[f32], offset: usize, scale: u32) -> Result<Vec<i64>, ImportError> {
    let half = 1i64 << (model::ACT_BITS - 1);
    input
        .iter()
        .enumerate()
        .map(|(i, &value)| {
            let index = offset + i;
            let q = (f64::from(value) * (1u64 << scale) as f64).round();
            if !q.is_finite() || q < -(half as f64) || q >= half as f64 {
                return Err(ImportError::InputRange {
                    index,
                    value,
                    scale,
                });
            }
            Ok(q as i64)
        })
        .collect()
}

/// Real values of an input tensor at `scale` fractional bits (what the verifier calibrates on:
/// the same values the prover calibrated on).
pub fn dequantise(t: &Tensor, scale: u32) -> Vec<f32> {
    t.data
        .iter()
        .map(|&v| (v as f64 / (1u64 << scale) as f64) as f32)
        .collect()
}

/// The real values of the input tensors of `src` (what a verifier calibrates on: the values
/// the prover calibrated on), concatenated in order: reals at `act_scale_bits`, integers as
/// they are.
pub fn dequantise_inputs(src: &OnnxModel, config: &QuantConfig, xs: &[Tensor]) -> Vec<f32> {
    xs.iter()
        .zip(&src.inputs)
        .flat_map(|(x, spec)| {
            let scale = if spec.ints { 0 } else { config.act_scale_bits };
            let vals = dequantise(x, scale);
            match spec.nchw {
                Some(d) if vals.len() == spec.len() => plan::nhwc_to_nchw(&vals, d),
                _ => vals,
            }
        })
        .collect()
}

impl Imported {
    /// Runs both tracks on `input` and compares them.
    pub fn compare(&self, input: &[f32]) -> Result<Report, ImportError> {
        let xs = quantise_inputs(&self.source, &self.config, input)?;
        let trace = execute_all(&self.graph, &xs).map_err(|source| ImportError::Exec {
            file: self.source.file.clone(),
            source,
        })?;
        self.compare_trace(input, &trace)
    }

    /// [`Self::compare`] with the integer track already run: `trace` is the graph's forward
    /// pass on [`quantise_input`]`(input)` (as [`OnnxModel::import_traced`] keeps it). Only the
    /// `f32` track (tract) and the real-valued lowering run here.
    pub fn compare_trace(&self, input: &[f32], trace: &Trace) -> Result<Report, ImportError> {
        if trace.values.len() != self.graph.nodes.len() {
            return Err(ImportError::Trace {
                file: self.source.file.clone(),
                nodes: self.graph.nodes.len(),
                values: trace.values.len(),
            });
        }
        let references = self.source.run_f32(input)?;
        let lowered = self.plan.eval(input);
        let layers = self
            .plan
            .steps
            .iter()
            .zip(&self.step_nodes)
            .zip(&lowered)
            .filter(|((step, _), _)| !matches!(step.op, plan::PlanOp::Input { .. }))
            .filter_map(|((step, &(node, scale)), want)| {
                let got = trace.values.get(node)?;
                (got.data.len() == want.len())
                    .then(|| LayerError::new(&step.name, &got.data, scale, want))
            })
            .collect();
        let outputs = (self.plan.outputs.iter())
            .zip(&self.output_nodes)
            .zip(references)
            .map(|((o, &(node, scale)), reference)| {
                let s = (1u64 << scale) as f64;
                let got = trace.values.get(node).map_or(&[][..], |t| &t.data[..]);
                OutputValues {
                    name: o.name.clone(),
                    dims: o.dims.clone(),
                    reference,
                    quantised: o.in_onnx_order(got.iter().map(|&v| v as f64 / s).collect()),
                    lowered: o.in_onnx_order(lowered[o.step].clone()),
                }
            })
            .collect();
        let mut report = Report::new(outputs);
        report.layers = layers;
        Ok(report)
    }
}

/// A seeded input of `len` values uniform in `[0, 1)` (pixel-like), for runs without a given
/// input. See [`seeded_uniform`].
pub fn seeded_input(len: usize, seed: u64) -> Vec<f32> {
    seeded_uniform(seed).take(len).collect()
}

/// An endless seeded stream of values uniform in `[0, 1)` (24-bit resolution). SplitMix64, so
/// that the CLI, tests and synthetic checkpoints agree without a random-number dependency.
pub fn seeded_uniform(seed: u64) -> impl Iterator<Item = f32> {
    let mut s = seed;
    std::iter::repeat_with(move || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
    })
}
