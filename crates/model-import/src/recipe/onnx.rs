//! ONNX models: one load, one quantisation of the input, one integer forward pass.

use std::borrow::Cow;
use std::path::Path;

use model::{Graph, Tensor};

use super::{Comparison, NamedOutput, PrepareError, Prepared};
use crate::{dequantise_inputs, quantise_inputs, seeded_input, OnnxModel, QuantConfig, Strategy};

/// An ONNX file and, where given, its inputs' shapes in order (`--input-shape`, or the
/// nesting of the input JSON: symbolic dimensions take their values; otherwise they are 1).
#[derive(Clone, Debug)]
pub struct OnnxFile<'a> {
    pub path: &'a Path,
    pub shapes: Vec<Option<Vec<usize>>>,
    /// The outputs to prove, by name, in order (`--outputs`); empty for every output.
    pub outputs: Vec<String>,
}

impl<'a> From<&'a Path> for OnnxFile<'a> {
    fn from(path: &'a Path) -> Self {
        Self {
            path,
            shapes: vec![],
            outputs: vec![],
        }
    }
}

impl<'a> From<&'a std::path::PathBuf> for OnnxFile<'a> {
    fn from(path: &'a std::path::PathBuf) -> Self {
        Self::from(path.as_path())
    }
}

impl OnnxFile<'_> {
    fn load(&self) -> Result<OnnxModel, PrepareError> {
        Ok(OnnxModel::load_inputs(self.path, &self.shapes)?.select_outputs(&self.outputs)?)
    }
}

/// Seed of the calibration input of [`onnx_graph`] when no input is given.
pub const DEFAULT_CALIBRATION_SEED: u64 = 1;

/// The ONNX model `model` (a path, or an [`OnnxFile`] with an input shape), quantised by
/// `config`, on the real input `reals` (as many values
/// as the model's input has; `seed`ed values uniform in `[0, 1)` if `None`).
///
/// The activation scales are calibrated on the quantised input (dequantised), so that a
/// verifier who has only the proof's input tensor calibrates on the same values
/// ([`onnx_graph`]). The file is loaded once and the integer graph runs once: the import's
/// checking run is the trace, and the report compares it with tract's `f32` run on `reals`.
pub fn prepare_onnx<'a>(
    model: impl Into<OnnxFile<'a>>,
    config: &QuantConfig,
    reals: Option<&[f32]>,
    seed: u64,
) -> Result<Prepared, PrepareError> {
    let src = model.into().load()?;
    let reals = reals_or_seeded(&src, reals, seed);
    prepare_loaded(&src, config, &reals)
}

/// `reals`, or [`seeded_inputs`] for the model.
fn reals_or_seeded<'a>(src: &OnnxModel, reals: Option<&'a [f32]>, seed: u64) -> Cow<'a, [f32]> {
    match reals {
        Some(r) => Cow::Borrowed(r),
        None => Cow::Owned(seeded_inputs(src, seed)),
    }
}

/// Values for every input of `src` when none are given: `seed`ed reals uniform in `[0, 1)`,
/// and ones for integer inputs (a valid token id, an all-ones mask).
pub fn seeded_inputs(src: &OnnxModel, seed: u64) -> Vec<f32> {
    let mut reals = seeded_input(src.input_len(), seed).into_iter();
    src.inputs
        .iter()
        .flat_map(|spec| {
            let part: Vec<f32> = reals.by_ref().take(spec.len()).collect();
            if spec.ints {
                vec![1.0; spec.len()]
            } else {
                part
            }
        })
        .collect()
}

/// The imported model's outputs with their names, shapes and nodes.
fn named_outputs(imported: &crate::Imported) -> Vec<NamedOutput> {
    (imported.plan.outputs.iter())
        .zip(&imported.output_nodes)
        .map(|(o, &(node, _))| NamedOutput {
            name: o.name.clone(),
            dims: o.dims.clone(),
            nchw: o.nchw,
            node,
        })
        .collect()
}

fn prepare_loaded(
    src: &OnnxModel,
    config: &QuantConfig,
    reals: &[f32],
) -> Result<Prepared, PrepareError> {
    prepare_calibrated_on(src, config, None, reals)
}

/// Quantises `reals`, imports the model with its scales calibrated on `calib` (real values;
/// the quantised input itself when `None`), runs the graph on the input and compares it with
/// tract on `reals`.
fn prepare_calibrated_on(
    src: &OnnxModel,
    config: &QuantConfig,
    calib: Option<&[f32]>,
    reals: &[f32],
) -> Result<Prepared, PrepareError> {
    let inputs = quantise_inputs(src, config, reals).map_err(|source| PrepareError::OnnxInput {
        file: src.file.clone(),
        source: Box::new(source),
    })?;
    let own;
    let calib = match calib {
        Some(c) => c,
        None => {
            own = dequantise_inputs(src, config, &inputs);
            &own
        }
    };
    // A clone: tract's model holds its constants behind `Arc`s.
    let (imported, trace) = src.clone().import_traced(config, calib, &inputs)?;
    let report = imported.compare_trace(reals, &trace)?;
    let outputs = named_outputs(&imported);
    Ok(Prepared {
        graph: imported.graph,
        inputs,
        trace,
        report: Some(Comparison::Onnx(report)),
        outputs,
    })
}

/// An error and its sources, `: `-separated.
fn error_chain(e: &PrepareError) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(e) = src {
        s.push_str(": ");
        s.push_str(&e.to_string());
        src = e.source();
    }
    s
}

/// Activation scale caps (`act_scale_bits`) that [`calibrate_onnx`] tries.
pub const ACT_BITS_GRID: [u32; 5] = [8, 10, 12, 13, 14];
/// Weight scales (`weight_scale_bits`) that [`calibrate_onnx`] tries with direct weights.
/// The finest scales matter most: the product `s_act + s_w` bounds the accumulator (below
/// `2^30`) and the rescale after it, so the best pair is often one step apart (MNIST MLP:
/// 13 and 15).
pub const WEIGHT_BITS_GRID: [u32; 7] = [8, 10, 12, 13, 14, 15, 16];

/// One setting [`calibrate_onnx`] tried: the output's max abs error against `f32`, or why it
/// could not run (a value outside the activation range, an accumulator overflow).
#[derive(Clone, Debug)]
pub struct Trial {
    pub config: QuantConfig,
    pub result: Result<f64, String>,
}

/// Scale calibration over a grid, like EZKL's `calibrate-settings`: the model is quantised
/// and run at every activation cap of [`ACT_BITS_GRID`] (and, for direct weights, every
/// weight scale of [`WEIGHT_BITS_GRID`]), each tensor still lowered to the scale its
/// calibrated magnitude allows; the setting whose output is closest to tract's `f32` run on
/// the input (max abs error; the first in grid order on a tie) is returned prepared, with
/// every trial. `base` gives the weight strategy. Refused with the base setting's error when
/// no setting runs.
pub fn calibrate_onnx<'a>(
    model: impl Into<OnnxFile<'a>>,
    base: &QuantConfig,
    reals: Option<&[f32]>,
    seed: u64,
) -> Result<(Prepared, QuantConfig, Vec<Trial>), PrepareError> {
    let src = model.into().load()?;
    let reals = &*reals_or_seeded(&src, reals, seed);
    let weights: Vec<u32> = match base.strategy {
        Strategy::Direct => WEIGHT_BITS_GRID.to_vec(),
        _ => vec![base.weight_scale_bits],
    };
    let mut trials = Vec::new();
    let mut best: Option<(f64, Prepared, QuantConfig)> = None;
    for act in ACT_BITS_GRID {
        for &w in &weights {
            let config = QuantConfig {
                act_scale_bits: act,
                weight_scale_bits: w,
                ..*base
            };
            let result = prepare_loaded(&src, &config, reals).map(|p| {
                let err = match &p.report {
                    Some(Comparison::Onnx(r)) => r.max_abs_err,
                    _ => f64::INFINITY,
                };
                (err, p)
            });
            trials.push(Trial {
                config,
                result: result.as_ref().map(|r| r.0).map_err(error_chain),
            });
            if let Ok((err, p)) = result {
                if best.as_ref().is_none_or(|b| err < b.0) {
                    best = Some((err, p, config));
                }
            }
        }
    }
    match best {
        Some((_, p, config)) => Ok((p, config, trials)),
        None => prepare_loaded(&src, base, reals).map(|p| (p, *base, trials)),
    }
}

/// The graph [`prepare_onnx`] builds for the input tensors `inputs` (a proof's public
/// inputs; without them, the seeded inputs of [`DEFAULT_CALIBRATION_SEED`]), for verifying
/// and inspecting.
pub fn onnx_graph<'a>(
    model: impl Into<OnnxFile<'a>>,
    config: &QuantConfig,
    inputs: Option<&[Tensor]>,
) -> Result<Graph, PrepareError> {
    let file = model.into();
    let (src, calib) = match inputs {
        Some(xs) => {
            let src = load_for(&file, xs)?;
            let calib = calibration_reals(&src, config, xs)?;
            (src, calib)
        }
        None => {
            let src = file.load()?;
            let reals = seeded_inputs(&src, DEFAULT_CALIBRATION_SEED);
            let xs = quantise_inputs(&src, config, &reals).map_err(|source| {
                PrepareError::OnnxInput {
                    file: src.file.clone(),
                    source: Box::new(source),
                }
            })?;
            let calib = dequantise_inputs(&src, config, &xs);
            (src, calib)
        }
    };
    Ok(src.import(config, &calib)?.graph)
}

/// [`prepare_onnx`] with the scales fixed by the quantised calibration inputs `calib` (a
/// verifying key's setup) rather than by the input: the graph is the one [`onnx_graph`]
/// builds for `calib`, run on `reals` (seeded if `None`), which must have the calibration's
/// shapes; a value that leaves a calibrated range is refused naming the node.
pub fn prepare_onnx_fixed<'a>(
    model: impl Into<OnnxFile<'a>>,
    config: &QuantConfig,
    calib: &[Tensor],
    reals: Option<&[f32]>,
    seed: u64,
) -> Result<Prepared, PrepareError> {
    let file = model.into();
    let src = load_for(&file, calib)?;
    let calib_reals = calibration_reals(&src, config, calib)?;
    let reals = reals_or_seeded(&src, reals, seed);
    prepare_calibrated_on(&src, config, Some(&calib_reals), &reals)
}

/// The model loaded with the shapes of the input tensors `xs` and the file's output selection.
fn load_for(file: &OnnxFile<'_>, xs: &[Tensor]) -> Result<OnnxModel, PrepareError> {
    let lens: Vec<usize> = xs.iter().map(|x| x.data.len()).collect();
    let first = file.shapes.first().and_then(|s| s.as_deref());
    Ok(OnnxModel::load_for_lens(file.path, &lens, first)?.select_outputs(&file.outputs)?)
}

/// The real values of the quantised input tensors `xs`, one per model input.
fn calibration_reals(
    src: &OnnxModel,
    config: &QuantConfig,
    xs: &[Tensor],
) -> Result<Vec<f32>, PrepareError> {
    if xs.len() != src.inputs.len() {
        return Err(PrepareError::OnnxInput {
            file: src.file.clone(),
            source: Box::new(crate::ImportError::Structure {
                file: src.file.clone(),
                detail: format!(
                    "{} input tensors for a model with {} inputs",
                    xs.len(),
                    src.inputs.len()
                ),
            }),
        });
    }
    Ok(dequantise_inputs(src, config, xs))
}
