//! Normalisation layers and the element-wise building blocks they use: row sums, constant
//! scaling and offsets, column- and weight-broadcast products, and RMSNorm built from them.

use serde::{Deserialize, Serialize};

use crate::func::Func;
use crate::graph::{GraphBuilder, GraphError, NodeId, Op, Weight};
use crate::tensor::Shape;
use crate::ACT_BITS;

/// Bounds of a norm's input in real units, as powers of two: every row's mean square lies in
/// `[2^ms_min_log2, 2^ms_max_log2]` and every entry's magnitude below `2^abs_max_log2`. They
/// choose the fixed-point scales of the norm ([`NormScales`]); they are part of the graph, so
/// prover and verifier use the same ones. Rows outside the bounds still run: a mean square below
/// the minimum saturates the rsqrt table (the norm's output shrinks), one above the maximum or
/// an entry above its bound makes the executor report an overflow instead of a proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NormRange {
    pub ms_min_log2: i32,
    pub ms_max_log2: i32,
    pub abs_max_log2: i32,
}

impl Default for NormRange {
    /// Rows with an rms between 1/8 and 4, entries below 16.
    fn default() -> Self {
        Self {
            ms_min_log2: -6,
            ms_max_log2: 4,
            abs_max_log2: 4,
        }
    }
}

impl NormRange {
    /// Margins of the calibration: mean squares may move by 4x either way, entries grow 2x.
    const MS_MARGIN_LOG2: i32 = 2;
    const ABS_MARGIN_LOG2: i32 = 1;

    /// Whether rows in this range at `s` fractional bits need the wide norm
    /// ([`crate::wide`]): entries beyond the activation range, or mean squares more than
    /// `2^12` apart (the plain norm's rsqrt table would lose their precision).
    pub fn needs_wide(&self, s: u32) -> bool {
        self.abs_max_log2 + s as i32 >= ACT_BITS as i32 - 1
            || self.ms_max_log2 - self.ms_min_log2 > 12
    }

    /// The smallest range covering both: the lower mean-square bound, the higher upper bounds.
    pub fn union(self, other: Self) -> Self {
        Self {
            ms_min_log2: self.ms_min_log2.min(other.ms_min_log2),
            ms_max_log2: self.ms_max_log2.max(other.ms_max_log2),
            abs_max_log2: self.abs_max_log2.max(other.abs_max_log2),
        }
    }

    /// The bounds of `rows` (real values, `cols` per row) with the calibration margins, or
    /// `None` for no rows.
    pub fn observe(data: &[f32], cols: usize) -> Option<Self> {
        let (mut lo, mut hi, mut abs) = (f64::INFINITY, 0f64, 0f64);
        for row in data.chunks(cols.max(1)) {
            let ms = row.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / row.len() as f64;
            lo = lo.min(ms);
            hi = hi.max(ms);
            abs = row.iter().fold(abs, |m, &v| m.max(f64::from(v).abs()));
        }
        if data.is_empty() || !hi.is_finite() || !abs.is_finite() {
            return None;
        }
        let log2 = |v: f64| v.max(f64::MIN_POSITIVE).log2().clamp(-60.0, 60.0);
        Some(Self {
            ms_min_log2: log2(lo).floor() as i32 - Self::MS_MARGIN_LOG2,
            ms_max_log2: log2(hi).ceil() as i32 + Self::MS_MARGIN_LOG2,
            abs_max_log2: log2(abs).ceil() as i32 + Self::ABS_MARGIN_LOG2,
        })
    }
}

/// The fixed-point plan of a norm on `n` columns at `s` fractional bits, from a [`NormRange`].
///
/// `x^2` (at `2s`) is rescaled by `square_shift` only where the row sums would otherwise
/// leave M31's signed range; the sums (below `2^sum_bits`) become the mean square at
/// `mean_scale`, the largest scale keeping the maximum below `2^14` (inside the rsqrt table's
/// domain with room for `eps`); `rsqrt` comes out at `inv_scale`, the largest scale keeping its
/// value at the minimum mean square below `2^14`, so `x * rsqrt` stays below `2^29`, where
/// a rescale's output range is sound for every shift (`zkml::circuit::rescale_output_range`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormScales {
    pub square_shift: u32,
    pub sum_bits: u32,
    pub mean_scale: u32,
    pub inv_scale: u32,
}

impl NormScales {
    pub fn choose(range: &NormRange, s: u32, n: usize, eps: f64) -> Self {
        let t = n.next_power_of_two().ilog2() as i32;
        let (s2, ms_max, abs) = (2 * s as i32, range.ms_max_log2, range.abs_max_log2);
        let half = ACT_BITS as i32 - 1;
        // Row sums n * ms * 2^(2s - r) stay below 2^30; rescaled squares below 2^15.
        let square_shift = if t + ms_max + s2 <= 29 {
            0
        } else {
            (t + ms_max + s2 - 29)
                .max(2 * abs + s2 - (half - 1))
                .clamp(0, s2)
        };
        let sum_scale = s2 - square_shift;
        let sum_bits = (t + ms_max + sum_scale).clamp(0, 31) as u32;
        let mean_scale = (half - 1 - ms_max).clamp(0, sum_scale + t);
        let floor = (f64::from(range.ms_min_log2).exp2() + eps).log2();
        let inv_scale = ((f64::from(half - 1) - 1e-9 + 0.5 * floor).floor() as i32).clamp(1, 29);
        Self {
            square_shift: square_shift as u32,
            sum_bits,
            mean_scale: mean_scale as u32,
            inv_scale: inv_scale as u32,
        }
    }
}

/// The `eps` of a norm: a constant, or a column at the mean's scale (one value per row).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Eps {
    Const(f64),
    Column(NodeId),
}

impl GraphBuilder {
    /// `y_i = sum_j x_ij` (`m x n -> m x 1`).
    pub fn row_sum(&mut self, input: NodeId) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        self.push(Op::RowSum { input }, Shape::new(x.shape.rows, 1), x.scale)
    }

    /// `c * x` with `c` read as `c / 2^frac_bits` (the scale grows by `frac_bits`).
    pub fn mul_const(
        &mut self,
        input: NodeId,
        c: i64,
        frac_bits: u32,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        if c == 0 || c.abs() >= 1 << 30 {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "mul_const",
                detail: format!("constant {c} must be non-zero and below 2^30"),
            });
        }
        self.push(
            Op::MulConst {
                input,
                c,
                frac_bits,
            },
            x.shape,
            x.scale + frac_bits,
        )
    }

    /// `x + c` on every real entry (the constant is at the input's scale).
    pub fn add_const(&mut self, input: NodeId, c: i64) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        if c.abs() >= 1 << 30 {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "add_const",
                detail: format!("constant {c} must be below 2^30"),
            });
        }
        self.push(Op::AddConst { input, c }, x.shape, x.scale)
    }

    /// `lhs (m x n) * rhs (m x 1)` broadcast over columns.
    pub fn mul_column(&mut self, lhs: NodeId, rhs: NodeId) -> Result<NodeId, GraphError> {
        let (l, r) = (self.node(lhs)?.clone(), self.node(rhs)?.clone());
        if r.shape != Shape::new(l.shape.rows, 1) {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "mul_column",
                detail: format!(
                    "column {}x{} for {} rows",
                    r.shape.rows, r.shape.cols, l.shape.rows
                ),
            });
        }
        self.push(Op::MulColumn { lhs, rhs }, l.shape, l.scale + r.scale)
    }

    /// `input * weight`, the weight `1 x n` (broadcast over rows) or of the input's shape.
    pub fn mul_weight(&mut self, input: NodeId, weight: Weight) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let ws = weight.shape;
        if ws != x.shape && ws != Shape::new(1, x.shape.cols) {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "mul_weight",
                detail: format!(
                    "weight {}x{} for input {}x{}",
                    ws.rows, ws.cols, x.shape.rows, x.shape.cols
                ),
            });
        }
        let scale = x.scale + weight.scale;
        let w = self.weight(weight)?;
        self.push(Op::MulWeight { input, weight: w }, x.shape, scale)
    }

    /// `input[i][c] * weight[row0 + i][c mod w]` ([`Op::MulWeightRows`]).
    pub fn mul_weight_rows(
        &mut self,
        input: NodeId,
        weight: Weight,
        row0: usize,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let ws = weight.shape;
        let padded_rows = 1usize << x.shape.log_rows();
        let padded_cols = 1usize << x.shape.log_cols();
        let ok = ws.cols.is_power_of_two()
            && padded_cols.is_multiple_of(ws.cols)
            && ws.rows.is_power_of_two()
            && row0.is_multiple_of(padded_rows)
            && row0 + padded_rows <= ws.rows;
        if !ok {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "mul_weight_rows",
                detail: format!(
                    "weight {}x{} rows {row0}.. for input {}x{}",
                    ws.rows, ws.cols, x.shape.rows, x.shape.cols
                ),
            });
        }
        let scale = x.scale + weight.scale;
        // Shared tables (RoPE's, read by every rotation of a graph) are stored once.
        let w = match self.weights.iter().position(|w| *w == weight) {
            Some(w) => w,
            None => self.weight(weight)?,
        };
        self.push(
            Op::MulWeightRows {
                input,
                weight: w,
                row0,
            },
            x.shape,
            scale,
        )
    }

    /// `m x 1 -> m x cols`, the column repeated.
    pub fn broadcast_column(&mut self, input: NodeId, cols: usize) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        if x.shape.cols != 1 || cols == 0 {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "broadcast_column",
                detail: format!("input {}x{} is not a column", x.shape.rows, x.shape.cols),
            });
        }
        self.push(
            Op::BroadcastColumn { input, cols },
            Shape::new(x.shape.rows, cols),
            x.scale,
        )
    }

    /// `1 x n -> rows x n`, the row repeated.
    pub fn broadcast_row(&mut self, input: NodeId, rows: usize) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        if x.shape.rows != 1 || rows == 0 {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "broadcast_row",
                detail: format!("input {}x{} is not a row", x.shape.rows, x.shape.cols),
            });
        }
        self.push(
            Op::BroadcastRow { input, rows },
            Shape::new(rows, x.shape.cols),
            x.scale,
        )
    }

    /// The row mean of `input` at its scale, as an `m x 1` column (see [`Self::row_mean_at`]).
    fn row_mean(&mut self, input: NodeId) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let sum = self.row_sum(input)?;
        // |row sum| < n 2^15: keep the quotient's pre-shift input below 2^15.
        let bits = x.shape.cols.next_power_of_two().ilog2() + 15;
        self.row_mean_at(sum, x.shape.cols, bits, x.scale)
    }

    /// `sum / n` at `scale` fractional bits, for a column of row sums whose magnitudes stay below
    /// `2^sum_bits`. Division by `2^t >= n` is an exact relabelling (`t` more fractional bits);
    /// a power-of-two `n` then needs one rescale, any other `n` a rescale of the sums below
    /// `2^15`, a product with `round(2^(t+10) / n) / 2^10` (relative error below `2^-10`) and a
    /// rescale to `scale`.
    fn row_mean_at(
        &mut self,
        sum: NodeId,
        n: usize,
        sum_bits: u32,
        scale: u32,
    ) -> Result<NodeId, GraphError> {
        let t = n.next_power_of_two().ilog2();
        let q = if t > 0 {
            self.mul_const(sum, 1, t)?
        } else {
            sum
        };
        if n.is_power_of_two() {
            return self.rescale_to(q, scale);
        }
        let pre = sum_bits.saturating_sub(15).min(self.node(q)?.scale);
        let q = if pre > 0 { self.rescale(q, pre)? } else { q };
        let c = ((1u64 << (t + 10)) as f64 / n as f64).round() as i64;
        let q = self.mul_const(q, c, 10)?;
        self.rescale_to(q, scale)
    }

    /// `input` rescaled down to `scale` fractional bits (unchanged if already there).
    fn rescale_to(&mut self, input: NodeId, scale: u32) -> Result<NodeId, GraphError> {
        let s = self.node(input)?.scale;
        if s == scale {
            return Ok(input);
        }
        if s < scale {
            return Err(GraphError::ScaleMismatch {
                node: self.nodes.len(),
                op: "rescale_to (target scale above the input's)",
                lhs: s,
                rhs: scale,
            });
        }
        self.rescale(input, s - scale)
    }

    /// `x * rsqrt(mean(x^2) + eps)` at the input's scale (the shared core of the norms), with
    /// fixed-point scales chosen from `range` ([`NormScales`]).
    fn normalise(
        &mut self,
        input: NodeId,
        eps: f64,
        range: &NormRange,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let sc = NormScales::choose(range, x.scale, x.shape.cols, eps);
        self.normalise_with(input, &sc, Eps::Const(eps), 0)
    }

    /// `x * rsqrt(mean(x^2) + eps)` at the input's scale plus `extra` bits (at most
    /// `inv_scale - 1`; the caller keeps `sqrt(n) 2^(s + extra)` below `2^15`), with the
    /// fixed-point plan `sc`.
    pub(crate) fn normalise_with(
        &mut self,
        input: NodeId,
        sc: &NormScales,
        eps: Eps,
        extra: u32,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let sq = self.mul(input, input)?;
        let sq = if sc.square_shift > 0 {
            self.rescale(sq, sc.square_shift)?
        } else {
            sq
        };
        let sum = self.row_sum(sq)?;
        let mean = self.row_mean_at(sum, x.shape.cols, sc.sum_bits, sc.mean_scale)?;
        let mean = match eps {
            Eps::Const(eps) => {
                let eps_q = ((eps * (1u64 << sc.mean_scale) as f64).round() as i64).max(1);
                self.add_const(mean, eps_q)?
            }
            Eps::Column(col) => self.add(mean, col)?,
        };
        let inv = self.activation(mean, Func::Rsqrt, sc.inv_scale)?;
        let xn = self.mul_column(input, inv)?;
        self.rescale(xn, sc.inv_scale - extra.min(sc.inv_scale - 1))
    }

    /// LayerNorm over each row: `(x - mean) / sqrt(var + eps) * gain + bias`, back at the
    /// input's scale (`bias` at the input's scale, `gain` at its own).
    pub fn layer_norm(
        &mut self,
        input: NodeId,
        gain: Weight,
        bias: Weight,
        eps: f64,
    ) -> Result<NodeId, GraphError> {
        self.layer_norm_in(input, gain, bias, eps, &NormRange::default())
    }

    /// [`Self::layer_norm`] with fixed-point scales chosen for centred rows within `range`.
    pub fn layer_norm_in(
        &mut self,
        input: NodeId,
        gain: Weight,
        bias: Weight,
        eps: f64,
        range: &NormRange,
    ) -> Result<NodeId, GraphError> {
        let n = self.node(input)?.shape.cols;
        let mean = self.row_mean(input)?;
        let mean = self.broadcast_column(mean, n)?;
        let neg = self.mul_const(mean, -1, 0)?;
        let centred = self.add(input, neg)?;
        // Rows beyond the plain norm (outlier channels, mean squares far apart) take the
        // wide normalisation, as RMSNorm does ([`crate::wide`]).
        let xn = match range.needs_wide(self.node(input)?.scale) {
            true => self.normalise_wide(centred, eps, range, 0)?,
            false => self.normalise(centred, eps, range)?,
        };
        let gain_scale = gain.scale;
        let y = self.mul_weight(xn, gain)?;
        let y = self.rescale(y, gain_scale)?;
        self.add_bias(y, bias)
    }

    /// RMSNorm over each row with the default [`NormRange`] (see [`Self::rms_norm_in`]).
    pub fn rms_norm(
        &mut self,
        input: NodeId,
        gain: Weight,
        eps: f64,
    ) -> Result<NodeId, GraphError> {
        self.rms_norm_in(input, gain, eps, &NormRange::default())
    }

    /// RMSNorm over each row: `x / sqrt(mean(x^2) + eps) * gain`, back at the input's scale,
    /// with fixed-point scales chosen for inputs within `range` ([`NormScales`]).
    ///
    /// Steps (each proved): `x*x` (rescaled only for large ranges), row sum, the division by
    /// `n` (a relabelling for a power of two), `+ eps`, `rsqrt` by a committed table, the
    /// column-broadcast product and the gain product, each followed by a rescale.
    pub fn rms_norm_in(
        &mut self,
        input: NodeId,
        gain: Weight,
        eps: f64,
        range: &NormRange,
    ) -> Result<NodeId, GraphError> {
        let xn = self.normalise(input, eps, range)?;
        self.apply_gain(xn, gain)
    }

    /// `xn * gain`, back at `xn`'s scale: the last step of an RMSNorm.
    pub(crate) fn apply_gain(&mut self, xn: NodeId, gain: Weight) -> Result<NodeId, GraphError> {
        let gain_scale = gain.scale;
        let y = self.mul_weight(xn, gain)?;
        self.rescale(y, gain_scale)
    }
}
