//! ONNX models: one load, one quantisation of the input, one integer forward pass.

use std::path::Path;

use model::{Graph, Tensor};

use super::{Comparison, PrepareError, Prepared};
use crate::{dequantise, quantise_input, seeded_input, OnnxModel, QuantConfig};

/// Seed of the calibration input of [`onnx_graph`] when no input is given.
pub const DEFAULT_CALIBRATION_SEED: u64 = 1;

/// The ONNX model at `path`, quantised by `config`, on the real input `reals` (as many values
/// as the model's input has; `seed`ed values uniform in `[0, 1)` if `None`).
///
/// The activation scales are calibrated on the quantised input (dequantised), so that a
/// verifier who has only the proof's input tensor calibrates on the same values
/// ([`onnx_graph`]). The file is loaded once and the integer graph runs once: the import's
/// checking run is the trace, and the report compares it with tract's `f32` run on `reals`.
pub fn prepare_onnx(
    path: &Path,
    config: &QuantConfig,
    reals: Option<&[f32]>,
    seed: u64,
) -> Result<Prepared, PrepareError> {
    let src = OnnxModel::load(path)?;
    let seeded;
    let reals = match reals {
        Some(r) => r,
        None => {
            seeded = seeded_input(src.input_len(), seed);
            &seeded
        }
    };
    let input = quantise_input(&src, config, reals).map_err(|source| PrepareError::OnnxInput {
        file: src.file.clone(),
        source: Box::new(source),
    })?;
    let calib = dequantise(&input, config.act_scale_bits);
    let (imported, trace) = src.import_traced(config, &calib, &input)?;
    let report = imported.compare_trace(reals, &trace)?;
    Ok(Prepared {
        graph: imported.graph,
        input,
        trace,
        report: Some(Comparison::Onnx(report)),
    })
}

/// The graph [`prepare_onnx`] builds for the input tensor `input` (a proof's public input;
/// without one, the seeded input of [`DEFAULT_CALIBRATION_SEED`]), for verifying and
/// inspecting.
pub fn onnx_graph(
    path: &Path,
    config: &QuantConfig,
    input: Option<&Tensor>,
) -> Result<Graph, PrepareError> {
    let src = OnnxModel::load(path)?;
    let calib = match input {
        Some(x) => dequantise(x, config.act_scale_bits),
        None => {
            let reals = seeded_input(src.input_len(), DEFAULT_CALIBRATION_SEED);
            let x =
                quantise_input(&src, config, &reals).map_err(|source| PrepareError::OnnxInput {
                    file: src.file.clone(),
                    source: Box::new(source),
                })?;
            dequantise(&x, config.act_scale_bits)
        }
    };
    Ok(src.import(config, &calib)?.graph)
}
