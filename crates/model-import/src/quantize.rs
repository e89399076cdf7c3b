//! From a real-valued [`Plan`] to a quantised [`Graph`].
//!
//! **Scales.** The input is at `act_scale_bits`. Every step gets a target scale from
//! calibration: the largest `s <= act_scale_bits` with `HEADROOM * max|x| * 2^s < 2^(ACT_BITS-1)`
//! on the calibration input, so that activations keep a factor `HEADROOM` of margin. A step's
//! raw output may sit at a finer scale (a matmul at `s_x + s_w`); a `rescale` brings it to its
//! target only where a consumer needs it, so a bias is added before the rescale, at the
//! product scale.
//!
//! **Weights.** [`Strategy::Direct`]: `round(w * 2^weight_scale_bits)`. [`Strategy::Symmetric8`]:
//! column `j` gets `e_j = min(floor(log2(127 / max_i |w_ij|)), weight_scale_bits)` (negative
//! for a column beyond the INT8 range at `2^0`) and INT8 values `q_ij = round(w_ij * 2^e_j)`;
//! [`Strategy::Int4`] does the same per group of rows, with 7 for 127. Our rescale divides a
//! whole tensor by one power of two, so the per-channel scales are realised by folding: with
//! `E = max(0, max_j e_j)`, the committed weight is `q_ij * 2^(E - e_j)`, exactly `w_ij` on
//! channel `j`'s own grid expressed at the common scale `2^-E`; one rescale by
//! `s_x + E - s_out` follows. This costs nothing in the proof (weights are field elements
//! either way) and keeps each channel's resolution.
//! Scalar and per-column constant factors are quantised the same way (INT8, power of two).
//! Integer matrices (pool selections, window sums, permutations) are committed at scale 0, so
//! their matmuls are exact and need no rescale; column slices keep their input's scale and a
//! column concatenation brings its parts to the coarsest of their scales; a LayerNorm's gain
//! is a per-column INT8 weight (scale at most 12) and its bias sits at the input's scale, as
//! `GraphBuilder::layer_norm` wants.

use model::norm::NormRange;
use model::{Graph, GraphBuilder, NodeId, Shape, Weight, ACT_BITS, MAX_ABS};

use crate::config::{QuantConfig, Strategy};
use crate::error::ImportError;
use crate::plan::{key_penalty, Plan, PlanOp, StepId};
use crate::qtensor::{pow2_exp, quantise_view, MatrixView, INT8_MAX};

/// Calibration margin: activations may grow by this factor over the calibration input.
pub const HEADROOM: f64 = 2.0;
/// Largest scale given to a constant factor.
const MAX_CONST_SCALE: u32 = 16;
/// Largest scale of a LayerNorm gain: the normalised row (at most `2^15` at its scale) times
/// the gain stays below `2^30`.
const MAX_GAIN_SCALE: u32 = 12;

struct Quantiser<'a> {
    plan: &'a Plan,
    /// The plan's f64 trace on the calibration input.
    calib: &'a [Vec<f64>],
    config: &'a QuantConfig,
    b: GraphBuilder,
    /// Per step: target scale.
    target: Vec<u32>,
    /// Per step: (node, scale) of the raw output; rescaled versions by scale.
    raw: Vec<(NodeId, u32)>,
    rescaled: Vec<Vec<(u32, NodeId)>>,
}

/// A quantised plan.
pub struct Quantised {
    pub graph: Graph,
    /// Per plan step: the node holding its raw value and that node's scale.
    pub step_nodes: Vec<(NodeId, u32)>,
    /// Per plan output: the node holding it and its scale (an input node for an output passed
    /// through; otherwise one of the graph's public outputs).
    pub outputs: Vec<(NodeId, u32)>,
}

/// Quantises `plan` with scales calibrated on `calib`, the plan's f64 trace. Returns the graph
/// and, per plan step, the node holding its value and that node's scale.
pub fn quantise(
    name: &str,
    file: &str,
    plan: &Plan,
    calib: &[Vec<f64>],
    config: &QuantConfig,
) -> Result<Quantised, ImportError> {
    let target = plan
        .steps
        .iter()
        .zip(calib)
        .map(|(step, vals)| {
            if let PlanOp::Input { index } = step.op {
                return Ok(input_scale(plan, index, config));
            }
            let max_abs = vals.iter().fold(0f64, |m, v| m.max(v.abs()));
            calibrated_scale(max_abs, config.act_scale_bits).ok_or_else(|| {
                ImportError::Calibration {
                    file: file.into(),
                    node: step.name.clone(),
                    max_abs,
                }
            })
        })
        .collect::<Result<Vec<u32>, _>>()?;
    let graph_err = |source| ImportError::Graph {
        file: file.into(),
        source,
    };
    let first = &plan.steps[0];
    let b = GraphBuilder::new(
        name,
        Shape::new(first.rows, first.cols),
        input_scale(plan, 0, config),
    )
    .map_err(graph_err)?;
    let mut q = Quantiser {
        plan,
        calib,
        config,
        b,
        target,
        raw: vec![],
        rescaled: vec![vec![]; plan.steps.len()],
    };
    for id in 0..plan.steps.len() {
        let r = q.step(id).map_err(graph_err)?;
        q.raw.push(r);
    }
    let outputs = (plan.outputs.iter())
        .map(|o| q.get(o.step))
        .collect::<Result<Vec<_>, _>>()
        .map_err(graph_err)?;
    // The proved outputs: each distinct node that is not an input (an output passed through
    // from an input is public already).
    let mut proved: Vec<NodeId> = Vec::new();
    for &(node, _) in &outputs {
        if q.b.op(node) != Some(&model::Op::Input) && !proved.contains(&node) {
            proved.push(node);
        }
    }
    let Some((&main, more)) = proved.split_first() else {
        return Err(ImportError::Structure {
            file: file.into(),
            detail: format!(
                "every output ({}) is an input passed through: nothing to prove",
                plan.outputs
                    .iter()
                    .map(|o| o.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    };
    let graph = q.b.build_outputs(main, more.to_vec()).map_err(graph_err)?;
    Ok(Quantised {
        graph,
        step_nodes: q.raw,
        outputs,
    })
}

/// The scale of input `index`: integers (ids, masks) exact at 0, reals at `act_scale_bits`.
pub fn input_scale(plan: &Plan, index: usize, config: &QuantConfig) -> u32 {
    match plan.inputs.get(index) {
        Some(i) if i.ints => 0,
        _ => config.act_scale_bits,
    }
}

/// The largest scale `<= max_scale` at which `HEADROOM * max_abs` fits the activation range.
pub fn calibrated_scale(max_abs: f64, max_scale: u32) -> Option<u32> {
    let limit = (1u64 << (ACT_BITS - 1)) as f64;
    let need = HEADROOM * max_abs;
    if need == 0.0 {
        return Some(max_scale);
    }
    let room = (limit / need).log2().floor();
    (room >= 0.0).then(|| (room as u32).min(max_scale))
}

/// `floor(log2(127 / max_abs))` clamped to `[0, cap]`: the INT8 power-of-two scale of a
/// constant factor.
fn int8_scale(max_abs: f64, cap: u32) -> u32 {
    pow2_exp(max_abs, INT8_MAX, cap).max(0) as u32
}

/// A `k x n` real matrix (or `1 x n` row) as integers and their common scale: `Direct` at
/// `scale`; `Symmetric8` per column and `Int4` per group of rows, exponents capped at `scale`,
/// folded to the finest one (see [`crate::qtensor`]).
pub fn quantise_matrix(w: &[f32], n: usize, strategy: Strategy, scale: u32) -> (Vec<i64>, u32) {
    if strategy == Strategy::Direct {
        return (
            w.iter().map(|&v| round_at(f64::from(v), scale)).collect(),
            scale,
        );
    }
    let view = MatrixView {
        src: w,
        rows: w.len() / n.max(1),
        cols: n,
        transposed: false,
    };
    let q = quantise_view("", view, strategy, scale);
    (q.folded(), q.scale())
}

fn round_at(v: f64, scale: u32) -> i64 {
    (v * (1u64 << scale) as f64).round() as i64
}

impl Quantiser<'_> {
    /// Step `s` at scale at most `scale`, rescaling (once per scale) if needed.
    fn at(&mut self, s: StepId, scale: u32) -> Result<(NodeId, u32), model::GraphError> {
        let (node, have) = self.raw[s];
        if have <= scale {
            return Ok((node, have));
        }
        if let Some(&(_, n)) = self.rescaled[s].iter().find(|(sc, _)| *sc == scale) {
            return Ok((n, scale));
        }
        let n = self.b.rescale(node, have - scale)?;
        self.rescaled[s].push((scale, n));
        Ok((n, scale))
    }

    /// Step `s` at its target scale (or coarser): what every consumer but a bias reads.
    fn get(&mut self, s: StepId) -> Result<(NodeId, u32), model::GraphError> {
        self.at(s, self.target[s])
    }

    fn weight(&self, name: String, rows: usize, cols: usize, scale: u32, data: Vec<i64>) -> Weight {
        Weight {
            name,
            shape: Shape::new(rows, cols),
            scale,
            data: data.into(),
        }
    }

    /// Rows of a constant table by integer ids: the table at the lookup's calibrated scale, or
    /// coarser if a row it did not read on the calibration input needs it.
    fn embedding(
        &mut self,
        id: StepId,
        ids: StepId,
        table: &[f32],
    ) -> Result<(NodeId, u32), model::GraphError> {
        let step = &self.plan.steps[id];
        let (cols, name) = (step.cols, format!("{}#{id}", step.name));
        let max_abs = table.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
        let s = calibrated_scale(max_abs, self.target[id]).unwrap_or(0);
        let data = table.iter().map(|&v| round_at(f64::from(v), s)).collect();
        let w = self.weight(format!("{name}.table"), table.len() / cols, cols, s, data);
        let (x, _) = self.raw[ids];
        Ok((self.b.embedding(x, w)?, s))
    }

    /// [`PlanOp::KeyMask`]: `(keep - 1) P` at the scores' scale, repeated down the rows, added.
    fn key_mask(
        &mut self,
        id: StepId,
        input: StepId,
        keep: StepId,
    ) -> Result<(NodeId, u32), model::GraphError> {
        let t = self.target[id].min(self.get(input)?.1);
        let (x, t) = self.at(input, t)?;
        let (mut k, mut sk) = self.get(keep)?;
        if sk > t {
            k = self.b.rescale(k, sk - t)?;
            sk = t;
        }
        let p = key_penalty(&self.calib[input]) as i64;
        let shifted = self.b.add_const(k, -(1i64 << sk))?;
        let row = self.b.mul_const(shifted, p << (t - sk), t - sk)?;
        let rows = self.b.broadcast_row(row, self.plan.steps[id].rows)?;
        Ok((self.b.add(x, rows)?, t))
    }

    /// The product of two activations at the sum of their scales, the operands lowered (the
    /// finer first) until the calibrated output, with headroom, fits the field.
    fn matmul_act(
        &mut self,
        id: StepId,
        lhs: StepId,
        rhs: StepId,
        transpose_rhs: bool,
    ) -> Result<(NodeId, u32), model::GraphError> {
        let (mut sl, mut sr) = (self.get(lhs)?.1, self.get(rhs)?.1);
        let max_abs = self.calib[id].iter().fold(0f64, |m, v| m.max(v.abs()));
        let room = (MAX_ABS as f64 / (HEADROOM * max_abs.max(1e-9)))
            .log2()
            .floor();
        let budget = room.clamp(0.0, 62.0) as u32;
        while sl + sr > budget && sl + sr > 0 {
            if sl >= sr {
                sl -= 1;
            } else {
                sr -= 1;
            }
        }
        let ((l, sl), (r, sr)) = (self.at(lhs, sl)?, self.at(rhs, sr)?);
        Ok((self.b.matmul_act(l, r, transpose_rhs)?, sl + sr))
    }

    fn step(&mut self, id: StepId) -> Result<(NodeId, u32), model::GraphError> {
        let step = &self.plan.steps[id];
        let cols = step.cols;
        let name = format!("{}#{id}", step.name);
        Ok(match &step.op {
            PlanOp::Input { index: 0 } => (self.b.input(), input_scale(self.plan, 0, self.config)),
            PlanOp::Input { index } => {
                let scale = input_scale(self.plan, *index, self.config);
                let shape = Shape::new(step.rows, step.cols);
                (self.b.public_input(shape, scale)?, scale)
            }
            PlanOp::Embedding { ids, table } => self.embedding(id, *ids, table)?,
            PlanOp::MatMul { input, weight, k } => {
                let (x, sx) = self.get(*input)?;
                let (data, sw) = quantise_matrix(
                    weight,
                    cols,
                    self.config.strategy,
                    self.config.weight_scale_bits,
                );
                let w = self.weight(format!("{name}.weight"), *k, cols, sw, data);
                (self.b.matmul(x, w)?, sx + sw)
            }
            PlanOp::Bias { input, bias } => {
                // Read the raw (unrescaled) input: the bias joins at the product scale.
                let (x, s) = self.raw[*input];
                let data = bias.iter().map(|&v| round_at(f64::from(v), s)).collect();
                let rows = bias.len() / cols.max(1);
                let w = self.weight(format!("{name}.bias"), rows, cols, s, data);
                (self.b.add_bias(x, w)?, s)
            }
            PlanOp::KeyMask { input, keep } => self.key_mask(id, *input, *keep)?,
            PlanOp::AddScalar { input, c } => {
                let (x, s) = self.get(*input)?;
                (self.b.add_const(x, round_at(f64::from(*c), s))?, s)
            }
            PlanOp::Scale { input, c } => {
                let (x, s) = self.get(*input)?;
                let sc = int8_scale(f64::from(c.abs()), MAX_CONST_SCALE);
                (
                    self.b.mul_const(x, round_at(f64::from(*c), sc), sc)?,
                    s + sc,
                )
            }
            PlanOp::ScaleCols { input, c } => {
                let (x, s) = self.get(*input)?;
                let (data, sc) = quantise_matrix(c, cols, Strategy::Symmetric8, MAX_CONST_SCALE);
                let w = self.weight(format!("{name}.scale"), c.len() / cols, cols, sc, data);
                (self.b.mul_weight(x, w)?, s + sc)
            }
            PlanOp::Add { lhs, rhs } => {
                let t = self.get(*lhs)?.1.min(self.get(*rhs)?.1);
                let (l, r) = (self.at(*lhs, t)?.0, self.at(*rhs, t)?.0);
                (self.b.add(l, r)?, t)
            }
            PlanOp::Mul { lhs, rhs } => {
                let ((l, sl), (r, sr)) = (self.get(*lhs)?, self.get(*rhs)?);
                (self.b.mul(l, r)?, sl + sr)
            }
            PlanOp::Relu { input } => {
                let (x, s) = self.get(*input)?;
                (self.b.relu(x)?, s)
            }
            PlanOp::Softmax { input } => {
                // The exp table reads the scores at their calibrated scale; the
                // probabilities come out at SOFTMAX_BITS and are rescaled to the target.
                let (x, _) = self.get(*input)?;
                (self.b.softmax(x, false)?, model::softmax::SOFTMAX_BITS)
            }
            PlanOp::Func { input, func } => {
                let (x, _) = self.get(*input)?;
                let out = self.target[id];
                (self.b.activation(x, *func, out)?, out)
            }
            PlanOp::IntMatMul { input, weight, k } => {
                let (x, s) = self.get(*input)?;
                let w = self.weight(format!("{name}.select"), *k, cols, 0, weight.clone());
                (self.b.matmul(x, w)?, s)
            }
            PlanOp::Gather { input, win, mode } => {
                let (x, s) = self.get(*input)?;
                (self.b.window_gather(x, *win, *mode)?, s)
            }
            PlanOp::ColumnSlice { input, start, len } => {
                let (x, s) = self.get(*input)?;
                (self.b.column_slice(x, *start, *len)?, s)
            }
            PlanOp::ConcatColumns { parts } => {
                // One scale for all parts: the coarsest of their targets.
                let mut t = u32::MAX;
                for &p in parts {
                    t = t.min(self.get(p)?.1);
                }
                let nodes = parts
                    .iter()
                    .map(|&p| self.at(p, t).map(|(n, _)| n))
                    .collect::<Result<Vec<_>, _>>()?;
                (self.b.concat_columns(&nodes)?, t)
            }
            PlanOp::MatMulAct {
                lhs,
                rhs,
                transpose_rhs,
            } => self.matmul_act(id, *lhs, *rhs, *transpose_rhs)?,
            PlanOp::Sub { lhs, rhs } => {
                let t = self.get(*lhs)?.1.min(self.get(*rhs)?.1);
                let (l, r) = (self.at(*lhs, t)?.0, self.at(*rhs, t)?.0);
                let neg = self.b.mul_const(r, -1, 0)?;
                (self.b.add(l, neg)?, t)
            }
            PlanOp::L2Normalize { input } => self.l2_normalize(id, *input, cols, &name)?,
            PlanOp::LayerNorm {
                input,
                gain,
                bias,
                eps,
            } => self.layer_norm(*input, gain, bias, *eps, cols, &name)?,
        })
    }

    /// `x / ||x||` per row = rmsnorm(x) / sqrt(n): an RMSNorm with the constant gain
    /// `1 / sqrt(n)`, its scales from the calibrated rows (wide where they need it), out at the
    /// step's target scale.
    fn l2_normalize(
        &mut self,
        id: StepId,
        input: StepId,
        cols: usize,
        name: &str,
    ) -> Result<(NodeId, u32), model::GraphError> {
        let (x, _) = self.get(input)?;
        let g = vec![1.0 / (cols as f32).sqrt(); cols];
        let (g, sg) = quantise_matrix(&g, cols, Strategy::Symmetric8, MAX_GAIN_SCALE);
        let gain = self.weight(format!("{name}.gain"), 1, cols, sg, g);
        let rows: Vec<f32> = self.calib[input].iter().map(|&v| v as f32).collect();
        let range = NormRange::observe(&rows, cols).unwrap_or_default();
        let out = self.target[id];
        Ok((self.b.rms_norm_auto(x, gain, 1e-12, &range, out)?, out))
    }

    /// LayerNorm at its input's scale; the gain has its own (at least 1: the builder rescales
    /// by it); the centred rows on the calibration input choose the norm's scales.
    fn layer_norm(
        &mut self,
        input: StepId,
        gain: &[f32],
        bias: &[f32],
        eps: f32,
        cols: usize,
        name: &str,
    ) -> Result<(NodeId, u32), model::GraphError> {
        let (x, s) = self.get(input)?;
        let (g, sg) = quantise_matrix(gain, cols, Strategy::Symmetric8, MAX_GAIN_SCALE);
        let (g, sg) = if sg == 0 {
            (g.iter().map(|v| v * 2).collect(), 1)
        } else {
            (g, sg)
        };
        let gain = self.weight(format!("{name}.gain"), 1, cols, sg, g);
        let data = bias.iter().map(|&v| round_at(f64::from(v), s)).collect();
        let bias = self.weight(format!("{name}.bias"), 1, cols, s, data);
        let centred: Vec<f32> = self.calib[input]
            .chunks(cols.max(1))
            .flat_map(|row| {
                let mean = row.iter().sum::<f64>() / row.len() as f64;
                row.iter().map(move |v| (v - mean) as f32)
            })
            .collect();
        let range = NormRange::observe(&centred, cols).unwrap_or_default();
        Ok((
            self.b
                .layer_norm_in(x, gain, bias, f64::from(eps), &range)?,
            s,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibrated_scale_keeps_headroom() {
        assert_eq!(calibrated_scale(0.0, 8), Some(8));
        assert_eq!(calibrated_scale(1.0, 8), Some(8));
        // 2 * 100 * 2^7 = 25600 < 2^15 <= 2 * 100 * 2^8
        assert_eq!(calibrated_scale(100.0, 8), Some(7));
        assert_eq!(calibrated_scale(16000.0, 8), Some(0));
        assert_eq!(calibrated_scale(20000.0, 8), None);
    }

    #[test]
    fn symmetric8_folds_per_channel_scales_exactly() {
        // 2 x 2, column 0 large (scale 2^7), column 1 small (2^12 after the cap).
        let w = [0.5f32, 0.01, -0.25, 0.02];
        let (q, e) = quantise_matrix(&w, 2, Strategy::Symmetric8, 12);
        assert_eq!(e, 12);
        // Column 0: INT8 values at 2^-7, multiplied by 2^5.
        assert_eq!((q[0], q[2]), (64 << 5, -32 << 5));
        // Column 1: INT8 values at 2^-12 (0.02 * 4096 = 81.92).
        assert_eq!((q[1], q[3]), (41, 82));
        for (j, shift) in [(0usize, 5u32), (1, 0)] {
            for i in 0..2 {
                let v = q[i * 2 + j];
                assert_eq!(v % (1 << shift), 0);
                assert!((v >> shift).abs() <= 127);
                let step = 1.0 / f64::from(1u32 << (e - shift));
                assert!((v as f64 / 4096.0 - f64::from(w[i * 2 + j])).abs() <= step / 2.0);
            }
        }
    }

    #[test]
    fn int4_matrix_folds_group_scales() {
        // 64 x 1: rows 0..32 at 2^-5 (7 / 0.2 = 35), rows 32..64 at 2^-2 (7 / 1.5 = 4.7).
        let mut w = vec![0.2f32; 64];
        w[40] = -1.5;
        let (q, e) = quantise_matrix(&w, 1, Strategy::Int4 { group: 32 }, 12);
        assert_eq!(e, 5);
        assert_eq!(q[0], 6); // round(0.2 * 32)
        assert_eq!(q[33], 1 << 3); // round(0.2 * 4) = 1, folded by 2^3
        assert_eq!(q[40], -6 << 3); // round(-1.5 * 4)
    }

    #[test]
    fn direct_rounds_at_the_scale() {
        let (q, e) = quantise_matrix(&[0.5, -0.126, 3.0], 3, Strategy::Direct, 7);
        assert_eq!((q, e), (vec![64, -16, 384], 7));
    }
}
