//! Dual-track comparison: the ONNX model in f32 (tract) against the quantised graph (M31).

use std::fmt;

/// How far the quantised output is from the f32 reference on one input.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The f32 reference output (tract), flattened.
    pub reference: Vec<f32>,
    /// The quantised output, dequantised.
    pub quantised: Vec<f64>,
    /// `max_i |quantised_i - reference_i|`.
    pub max_abs_err: f64,
    /// `max_abs_err / max_i |reference_i|`: the error relative to the output's magnitude
    /// (element-wise ratios blow up near zero and say little).
    pub max_rel_err: f64,
    /// For an output with at least two columns (a classifier's logits): whether the arg-max
    /// of every row agrees.
    pub top1_agrees: Option<bool>,
    /// Max absolute error of the real-valued lowering (before quantisation) against tract:
    /// checks the import itself.
    pub lowering_err: f64,
    /// Per lowered step (an ONNX node, or a step of one), the quantised value against the
    /// real-valued lowering (which matches tract to `lowering_err` at the output).
    pub layers: Vec<LayerError>,
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
    /// Compares `quantised` (and the real-valued lowering `lowered`) with `reference`, all
    /// row-major with `cols` columns.
    pub fn new(reference: Vec<f32>, quantised: Vec<f64>, lowered: &[f64], cols: usize) -> Self {
        let err = |other: &[f64]| {
            reference
                .iter()
                .zip(other)
                .fold(0f64, |m, (&r, &q)| m.max((q - f64::from(r)).abs()))
        };
        let max_abs_err = err(&quantised);
        let lowering_err = err(lowered);
        let scale = reference
            .iter()
            .fold(0f64, |m, &r| m.max(f64::from(r).abs()));
        let max_rel_err = if scale > 0.0 {
            max_abs_err / scale
        } else {
            max_abs_err
        };
        let top1_agrees = (cols >= 2).then(|| {
            reference
                .chunks(cols)
                .zip(quantised.chunks(cols))
                .all(|(r, q)| argmax(r.iter().map(|&v| f64::from(v))) == argmax(q.iter().copied()))
        });
        Self {
            reference,
            quantised,
            max_abs_err,
            max_rel_err,
            top1_agrees,
            lowering_err,
            layers: Vec::new(),
        }
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
