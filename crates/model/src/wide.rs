//! Wide-range fixed point, built only from the proved ops (no new relation to trust).
//!
//! Real checkpoints carry "massive activations": one position (usually the first) whose
//! residual stream holds a few channels in the tens of thousands of real units, while the
//! other rows stay near 1-100. At 2^-8 that is 2^23, beyond the 16-bit range every rescale
//! output is looked up in, and a row sum of its squares leaves M31. Three constructions keep
//! such values exact and such rows accurate:
//!
//! - [`GraphBuilder::rescale_wide`]: `round(x / 2^s)` up to `2^(29-s)` in magnitude as two
//!   range-checked limbs, `2^L hi + lo` (`hi` a rescale by `s + L`, `lo` the rescale of what
//!   is left by `s`); exact, with one decomposition.
//! - [`GraphBuilder::matmul_wide_input`]: a matmul whose input is given as such limbs (the
//!   SwiGLU product of a massive row), one matmul per limb against the same committed weight,
//!   so the accumulators stay small.
//! - [`GraphBuilder::rms_norm_wide`]: RMSNorm on rows whose scales differ by many octaves. A
//!   coarse copy of each row gives an upper bound on its norm; a per-row factor `P` read from
//!   committed tables brings the exact row `x * P / 2^14` into one octave-wide window, where the
//!   usual norm (with the row's `eps * P^2 / 2^28`) runs at full precision. RMSNorm does not see
//!   the factor: `x P / rms(x P) = x / rms(x)`.

use crate::graph::{GraphBuilder, GraphError, NodeId, Weight};
use crate::norm::NormRange;
use crate::tensor::Shape;
use crate::ACT_BITS;

/// Bits of the low limb of a wide rescale or a limb-split matmul input.
pub const LIMB_BITS: u32 = 8;

/// The shift that brings the exact row of a wide norm into its window: `||x P|| < 2^28`.
const WINDOW_SHIFT: u32 = 14;

/// A `1 x 2^ACT_BITS` table of `f(t)` for `t` in the activation range (row `t + 2^15`).
fn table(name: String, scale: u32, f: impl Fn(i64) -> i64) -> Weight {
    let half = 1i64 << (ACT_BITS - 1);
    Weight {
        name,
        shape: Shape::new(1, 1 << ACT_BITS),
        scale,
        data: (-half..half).map(f).collect(),
    }
}

impl GraphBuilder {
    /// `input` with `bits` more fractional bits and the same integers (its real value divided
    /// by `2^bits`); `input` itself when `bits` is 0.
    pub fn relabel(&mut self, input: NodeId, bits: u32) -> Result<NodeId, GraphError> {
        if bits == 0 {
            return Ok(input);
        }
        self.mul_const(input, 1, bits)
    }

    /// `f(input)` through a table of all `2^ACT_BITS` inputs, shared with every other use of a
    /// table of the same name.
    pub fn lookup_table(&mut self, input: NodeId, t: Weight) -> Result<NodeId, GraphError> {
        let shape = self.node(input)?.shape;
        let scale = t.scale;
        let table = match self.weights.iter().position(|w| w.name == t.name) {
            Some(i) => i,
            None => self.weight(t)?,
        };
        self.push(crate::Op::Lookup { input, table }, shape, scale)
    }

    /// The low limb bits [`Self::rescale_wide`] uses for `shift` on an input at `scale`
    /// (0: a plain rescale).
    fn wide_limb_bits(scale: u32, shift: u32) -> u32 {
        LIMB_BITS.min(scale.saturating_sub(shift))
    }

    /// `round(input / 2^shift)` like [`Self::rescale`], for outputs up to `2^(L-1)` times the
    /// range of a rescale by `shift + L` (`L` = [`LIMB_BITS`] when the input has the
    /// fractional bits; `2^22` for shifts up to 6, `2^(29-shift)` beyond): the high limb
    /// `hi = round(x / 2^(shift+L))` and the low limb `lo = round((x - 2^(shift+L) hi) / 2^shift)`
    /// in `[-2^(L-1), 2^(L-1)]` are both rescale outputs (range-checked), and `2^L hi + lo`
    /// is exactly `round(x / 2^shift)`.
    pub fn rescale_wide(&mut self, input: NodeId, shift: u32) -> Result<NodeId, GraphError> {
        let (hi, lo) = self.rescale_limbs(input, shift)?;
        let Some(hi) = hi else { return Ok(lo) };
        let l = self.node(lo)?.scale - self.node(hi)?.scale;
        let up = self.mul_const(hi, 1 << l, l)?;
        self.add(up, lo)
    }

    /// The limbs of [`Self::rescale_wide`]: `(Some(hi), lo)` with `hi` at `L` fewer fractional
    /// bits than `lo` (the output's scale), or `(None, y)` for a plain rescale.
    pub fn rescale_limbs(
        &mut self,
        input: NodeId,
        shift: u32,
    ) -> Result<(Option<NodeId>, NodeId), GraphError> {
        let s = self.node(input)?.scale;
        let l = Self::wide_limb_bits(s, shift);
        if l == 0 {
            return Ok((None, self.rescale(input, shift)?));
        }
        let hi = self.rescale(input, shift + l)?;
        let back = self.mul_const(hi, -(1i64 << (shift + l)), shift + l)?;
        let rest = self.add(input, back)?;
        let lo = self.rescale(rest, shift)?;
        Ok((Some(hi), lo))
    }

    /// `x . w` rescaled to `out_scale`, for `x = hi + lo` given as the limbs of
    /// [`Self::rescale_limbs`] (`hi` carries the magnitude, `lo` the precision): one matmul
    /// per limb against the same weight, each brought to `out_scale` (the high part by a wide
    /// rescale), then added.
    pub fn matmul_wide_input(
        &mut self,
        hi: NodeId,
        lo: NodeId,
        w: &Weight,
        out_scale: u32,
    ) -> Result<NodeId, GraphError> {
        let d_hi = self.matmul_from_parts(&[hi], w)?;
        let d_lo = self.matmul_from_parts(&[lo], w)?;
        let d_hi = self.to_scale(d_hi, out_scale, true)?;
        let d_lo = self.to_scale(d_lo, out_scale, false)?;
        self.add(d_hi, d_lo)
    }

    /// `input` at `scale` fractional bits: rescaled down (wide when asked), or its integers
    /// multiplied up by a power of two.
    pub fn to_scale(
        &mut self,
        input: NodeId,
        scale: u32,
        wide: bool,
    ) -> Result<NodeId, GraphError> {
        let s = self.node(input)?.scale;
        match s.cmp(&scale) {
            std::cmp::Ordering::Equal => Ok(input),
            std::cmp::Ordering::Less => {
                let d = scale - s;
                self.mul_const(input, 1 << d, d)
            }
            std::cmp::Ordering::Greater if wide => self.rescale_wide(input, s - scale),
            std::cmp::Ordering::Greater => self.rescale(input, s - scale),
        }
    }

    /// RMSNorm by [`Self::rms_norm_in`], or by [`Self::rms_norm_wide`] when `range` is
    /// beyond it ([`NormRange::needs_wide`]), with its output at `out_scale` fractional bits.
    /// Above the input's scale, the normalised row keeps up to 2 more bits (as far as
    /// `sqrt(n)`, its largest entry, allows) and the gain product is rescaled to `out_scale`;
    /// at the input's scale the graph is exactly that of [`Self::rms_norm_in`].
    pub fn rms_norm_auto(
        &mut self,
        input: NodeId,
        gain: Weight,
        eps: f64,
        range: &NormRange,
        out_scale: u32,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let s = x.scale;
        let root_n = (x.shape.cols as f64).sqrt().log2().ceil() as u32;
        let extra = (out_scale.saturating_sub(s))
            .min(2)
            .min(14u32.saturating_sub(s + root_n));
        let xn = match range.needs_wide(s) {
            true => self.normalise_wide(input, eps, range, extra)?,
            false => {
                let sc = crate::norm::NormScales::choose(range, s, x.shape.cols, eps);
                self.normalise_with(input, &sc, crate::norm::Eps::Const(eps), extra)?
            }
        };
        let y = self.mul_weight(xn, gain)?;
        self.to_scale(y, out_scale, false)
    }

    /// RMSNorm (`x / sqrt(mean(x^2) + eps) * gain`, at the input's scale) for rows of any
    /// magnitude up to `2^range.abs_max_log2` real units and row mean squares up to
    /// `2^range.ms_max_log2`, however far apart the rows are (see the module documentation).
    ///
    /// Steps, all proved ops: `x_c = round(x / 2^c)` with `c` chosen so that every row's
    /// `u = sum x_c^2` stays below `2^26` ([`WidePlan::choose`]); `u' = 2u + ceil(n/2)`
    /// bounds `||x||^2 / 4^c`; the limbs `a = round(u' / 2^15)`, `b = u' - 2^15 a` select
    /// the factor `P = P_hi(a) + [a = 0] P_lo(b)` (tables, `P ~ 2^(28-c) / sqrt(u')`, so
    /// `||x P|| < 2^28`); `x_n = round(x P / 2^14)`; then the usual norm of `x_n` with `eps`
    /// scaled by `P^2 / 2^28` (two more tables of `a` and `b`).
    pub fn rms_norm_wide(
        &mut self,
        input: NodeId,
        gain: Weight,
        eps: f64,
        range: &NormRange,
    ) -> Result<NodeId, GraphError> {
        let xn = self.normalise_wide(input, eps, range, 0)?;
        self.apply_gain(xn, gain)
    }

    /// `x / rms(x)` at the input's scale plus `extra` bits for wide rows (the core of
    /// [`Self::rms_norm_wide`]).
    pub fn normalise_wide(
        &mut self,
        input: NodeId,
        eps: f64,
        range: &NormRange,
        extra: u32,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let (s, n) = (x.scale, x.shape.cols);
        let plan = WidePlan::choose(range, s, n).ok_or_else(|| GraphError::ShapeMismatch {
            node: self.nodes.len(),
            op: "rms_norm_wide",
            detail: format!("norm range {range:?} at scale {s} does not fit M31"),
        })?;
        // The coarse row: every row's sum of squares below 2^26.
        let xr = self.relabel(input, plan.c.saturating_sub(s))?;
        let xc = self.rescale(xr, plan.c)?;
        let sq = self.mul(xc, xc)?;
        // Integers matter from here on; the scale labels only ride along.
        let u = self.row_sum(sq)?;
        let u2 = self.mul_const(u, 2, 0)?;
        let u2 = self.add_const(u2, n.div_ceil(2) as i64)?;
        // Limbs of u': a = round(u' / 2^15), b = u' - 2^15 a.
        let ur = self.relabel(u2, 15)?;
        let a = self.rescale(ur, 15)?;
        let back = self.mul_const(a, -(1 << 15), 0)?;
        let b = self.add(u2, back)?;
        let k = plan.factor_bits();
        let zero = self.lookup_table(a, table("wide/is_zero".into(), 0, |t| (t == 0) as i64))?;
        let p_hi = self.lookup_table(
            a,
            table(format!("wide/p_hi/{k}"), 0, |t| {
                if t > 0 {
                    factor(k, (t as f64 + 0.5) * 32768.0)
                } else {
                    0
                }
            }),
        )?;
        let p_lo = self.lookup_table(
            b,
            table(format!("wide/p_lo/{k}"), 0, |t| factor(k, t.max(1) as f64)),
        )?;
        let p_lo = self.mul(zero, p_lo)?;
        let p = self.add(p_hi, p_lo)?;
        // x_n = round(x P / 2^14), ||x_n|| < 2^15.
        let xp = self.mul_column(input, p)?;
        let xp = self.relabel(xp, WINDOW_SHIFT)?;
        let xn = self.rescale(xp, WINDOW_SHIFT)?;
        // The usual norm on the window, eps scaled by (P / 2^14)^2 per row.
        let window = plan.window_range(s, n);
        // Row sums of x_n^2 are ||x_n||^2 < 2^28 whatever n: the squares need no rescale.
        let sc = crate::norm::NormScales {
            square_shift: 0,
            sum_bits: 28,
            ..crate::norm::NormScales::choose(&window, s, n, 0.0)
        };
        let eps_of = |p: i64| {
            let v = eps * (p as f64 / f64::from(1u32 << WINDOW_SHIFT)).powi(2);
            ((v * f64::from(1u32 << sc.mean_scale)).round() as i64).clamp(1, 1 << 29)
        };
        let name = format!("wide/eps_hi/{k}/{eps:e}/{}", sc.mean_scale);
        let e_hi = self.lookup_table(
            a,
            table(name, sc.mean_scale, |t| {
                if t > 0 {
                    eps_of(factor(k, (t as f64 + 0.5) * 32768.0))
                } else {
                    0
                }
            }),
        )?;
        let name = format!("wide/eps_lo/{k}/{eps:e}/{}", sc.mean_scale);
        let e_lo = self.lookup_table(
            b,
            table(name, sc.mean_scale, |t| eps_of(factor(k, t.max(1) as f64))),
        )?;
        let e_lo = self.mul(zero, e_lo)?;
        let eps_col = self.add(e_hi, e_lo)?;
        self.normalise_with(xn, &sc, crate::norm::Eps::Column(eps_col), extra)
    }
}

/// `floor(2^k / sqrt(v))`: the factor for a row whose `u'` is at most `v`.
fn factor(k: u32, v: f64) -> i64 {
    (f64::from(1u32 << k) / v.sqrt()).floor() as i64
}

/// The shifts of a wide norm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WidePlan {
    /// The coarse shift: `x_c = round(x / 2^c)`.
    pub c: u32,
}

impl WidePlan {
    /// The coarse shift for rows within `range` at scale `s` with `n` columns: the largest row
    /// sum of `x_c^2` below `2^26` (so `u' = 2u + n/2` stays inside the 15-bit range of
    /// `a = round(u' / 2^15)`), entries of `x_c` in the activation
    /// range. `None` when no shift fits (a range beyond M31).
    pub fn choose(range: &NormRange, s: u32, n: usize) -> Option<Self> {
        let t = n.next_power_of_two().ilog2() as i32;
        let s = s as i32;
        let by_sum = (t + range.ms_max_log2 + 2 * s - 27 + 1).div_euclid(2);
        let by_abs = range.abs_max_log2 + s - (ACT_BITS as i32 - 2);
        let c = by_sum.max(by_abs).max(1);
        (c + 15 <= 29).then_some(Self { c: c as u32 })
    }

    /// Bits of the factor tables: `||x P|| <= 2^c sqrt(u') P <= 2^28`.
    pub fn factor_bits(&self) -> u32 {
        28 - self.c
    }

    /// The range of the windowed row `x_n` (real units at scale `s`): entries below `2^14`
    /// units, `||x_n||^2` between `2^24 / 3` and `2^28` units^2 (below when `x_c` vanishes).
    fn window_range(&self, s: u32, n: usize) -> NormRange {
        let s2 = 2 * s as i32;
        let log_n = (n as f64).log2();
        NormRange {
            ms_min_log2: (24.0 - 3f64.log2() - log_n).floor() as i32 - s2,
            ms_max_log2: (28.0 - log_n).ceil() as i32 - s2,
            abs_max_log2: 14 - s as i32,
        }
    }
}
