//! Dual-track comparison: the ONNX model in f32 (tract) against the quantised graph (M31).

use std::fmt;

/// How far the quantised outputs are from the f32 reference on one input.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The f32 reference outputs (tract), each flattened in ONNX order, concatenated in the
    /// outputs' order.
    pub reference: Vec<f32>,
    /// The quantised outputs, dequantised, laid out as `reference`.
    pub quantised: Vec<f64>,
    /// `max_i |quantised_i - reference_i|` over every output.
    pub max_abs_err: f64,
    /// The largest of the outputs' `max_abs_err / max_i |reference_i|`: the error relative
    /// to each output's magnitude (element-wise ratios blow up near zero and say little).
    pub max_rel_err: f64,
    /// For a first output with at least two columns (a classifier's logits): whether the
    /// arg-max of every row agrees.
    pub top1_agrees: Option<bool>,
    /// Max absolute error of the real-valued lowering (before quantisation) against tract:
    /// checks the import itself.
    pub lowering_err: f64,
    /// Per output, in order: its name, shape and errors.
    pub outputs: Vec<OutputError>,
    /// Per lowered step (an ONNX node, or a step of one), the quantised value against the
    /// real-valued lowering (which matches tract to `lowering_err` at the output).
    pub layers: Vec<LayerError>,
}

/// One output's values on both tracks, in ONNX order ([`Report::new`]).
#[derive(Clone, Debug, PartialEq)]
pub struct OutputValues {
    pub name: String,
    /// Its ONNX shape; the last dimension is the row length `top1_agrees` compares.
    pub dims: Vec<usize>,
    pub reference: Vec<f32>,
    pub quantised: Vec<f64>,
    /// The real-valued lowering's value.
    pub lowered: Vec<f64>,
}

/// One output's error against the f32 reference.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputError {
    pub name: String,
    pub dims: Vec<usize>,
    pub max_abs_err: f64,
    /// Relative to the output's largest reference value.
    pub max_rel_err: f64,
}

/// One step's quantised value against the real-valued lowering.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerError {
    pub name: String,
    pub max_abs_err: f64,
    /// Relative to the step's largest real value.
    pub max_rel_err: f64,
}

impl LayerError {
    /// Compares integers at `scale` fractional bits with the real values `want`.
    pub fn new(name: &str, got: &[i64], scale: u32, want: &[f64]) -> Self {
        let s = (1u64 << scale) as f64;
        let max_abs_err = got
            .iter()
            .zip(want)
            .fold(0f64, |m, (&g, &w)| m.max((g as f64 / s - w).abs()));
        let top = want.iter().fold(0f64, |m, w| m.max(w.abs()));
        Self {
            name: name.to_string(),
            max_abs_err,
            max_rel_err: if top > 0.0 { max_abs_err / top } else { 0.0 },
        }
    }
}

impl Report {
    /// Compares each output's quantised value (and the real-valued lowering) with its
    /// reference.
    pub fn new(outputs: Vec<OutputValues>) -> Self {
        let err = |reference: &[f32], other: &[f64]| {
            reference
                .iter()
                .zip(other)
                .fold(0f64, |m, (&r, &q)| m.max((q - f64::from(r)).abs()))
        };
        let top1_agrees = outputs.first().and_then(|o| {
            let cols = o.dims.last().copied().unwrap_or(1);
            (cols >= 2).then(|| {
                o.reference
                    .chunks(cols)
                    .zip(o.quantised.chunks(cols))
                    .all(|(r, q)| {
                        argmax(r.iter().map(|&v| f64::from(v))) == argmax(q.iter().copied())
                    })
            })
        });
        let mut report = Self {
            reference: Vec::new(),
            quantised: Vec::new(),
            max_abs_err: 0.0,
            max_rel_err: 0.0,
            top1_agrees,
            lowering_err: 0.0,
            outputs: Vec::with_capacity(outputs.len()),
            layers: Vec::new(),
        };
        for o in outputs {
            let max_abs_err = err(&o.reference, &o.quantised);
            let scale = o
                .reference
                .iter()
                .fold(0f64, |m, &r| m.max(f64::from(r).abs()));
            let max_rel_err = if scale > 0.0 {
                max_abs_err / scale
            } else {
                max_abs_err
            };
            report.max_abs_err = report.max_abs_err.max(max_abs_err);
            report.max_rel_err = report.max_rel_err.max(max_rel_err);
            report.lowering_err = report.lowering_err.max(err(&o.reference, &o.lowered));
            report.reference.extend(o.reference);
            report.quantised.extend(o.quantised);
            report.outputs.push(OutputError {
                name: o.name,
                dims: o.dims,
                max_abs_err,
                max_rel_err,
            });
        }
        report
    }
}

fn argmax(it: impl Iterator<Item = f64>) -> usize {
    it.enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (i, v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dual-track: max abs error {:.5}, max rel error {:.5} (of max |f32 output|), lowering error {:.2e}",
            self.max_abs_err, self.max_rel_err, self.lowering_err
        )?;
        if let Some(a) = self.top1_agrees {
            write!(f, ", top-1 {}", if a { "agrees" } else { "DIFFERS" })?;
        }
        if self.outputs.len() > 1 {
            for o in &self.outputs {
                write!(
                    f,
                    "\n  output '{}' {:?}: max abs error {:.5}, max rel error {:.5}",
                    o.name, o.dims, o.max_abs_err, o.max_rel_err
                )?;
            }
        }
        for l in &self.layers {
            write!(
                f,
                "\n  layer '{}': max abs error {:.5}, max rel error {:.5}",
                l.name, l.max_abs_err, l.max_rel_err
            )?;
        }
        Ok(())
    }
}
