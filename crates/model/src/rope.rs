//! Rotary position embeddings: `x * cos + rotate_half(x) * sin` per head, with the rotation
//! tables stored as (committed) weights of one row per position and one column per head
//! dimension, read by [`Op::MulWeightRows`] at the rows' positions.

use crate::graph::{GraphBuilder, GraphError, NodeId, Op, Weight};
use crate::tensor::Shape;

/// Fractional bits of the RoPE cos/sin tables.
pub const ROPE_SCALE: u32 = 14;

/// Fewest positions in a RoPE table: its height is the next power of two covering the rows,
/// at least this, so that decoding steps share one table (and one weight commitment) until
/// the sequence crosses a power of two.
pub const MIN_ROPE_POSITIONS: usize = 256;

/// How positions turn into RoPE angles beyond the base frequencies `theta^(-2i/d)`: the
/// HuggingFace `rope_scaling` types that keep the attention unscaled.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum RopeScaling {
    /// The base frequencies.
    #[default]
    None,
    /// Positions divided by `factor` (`"linear"`): every frequency divided by it.
    Linear { factor: f64 },
    /// Llama 3.x (`"llama3"`): wavelengths above `original_max_position / low_freq_factor`
    /// are stretched by `factor`, those below `original_max_position / high_freq_factor` kept,
    /// and the band between interpolated smoothly.
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_max_position: f64,
    },
}

impl RopeScaling {
    /// The angle per position of rotation pair `i` (`0 <= i < d / 2`) of a head of `d`.
    pub fn inv_freq(&self, theta: f64, d: usize, i: usize) -> f64 {
        let base = theta.powf(-2.0 * i as f64 / d as f64);
        match *self {
            RopeScaling::None => base,
            RopeScaling::Linear { factor } => base / factor,
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position,
            } => {
                let wavelen = 2.0 * std::f64::consts::PI / base;
                if wavelen < original_max_position / high_freq_factor {
                    base
                } else if wavelen > original_max_position / low_freq_factor {
                    base / factor
                } else {
                    let smooth = (original_max_position / wavelen - low_freq_factor)
                        / (high_freq_factor - low_freq_factor);
                    (1.0 - smooth) * base / factor + smooth * base
                }
            }
        }
    }

    /// A tag for table names (tables are shared by name).
    fn tag(&self) -> String {
        match *self {
            RopeScaling::None => String::new(),
            other => format!("/{other:?}"),
        }
    }
}

impl GraphBuilder {
    /// Within each block of `2^log_block` columns, `(x1, x2) -> (-x2, x1)`.
    pub fn rotate_half(&mut self, input: NodeId, log_block: u32) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        if log_block == 0 || !x.shape.cols.is_multiple_of(1usize << log_block) {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "rotate_half",
                detail: format!(
                    "{} columns are not whole blocks of 2^{log_block}",
                    x.shape.cols
                ),
            });
        }
        self.push(Op::RotateHalf { input, log_block }, x.shape, x.scale)
    }

    /// RoPE on `input` (`seq x (heads * head_dim)`, rows at positions `pos0, pos0 + 1, ...`),
    /// with `head_dim = 2^log_head_dim` and base `theta`; the result is at the input's scale.
    ///
    /// When `pos0` is a multiple of the input's padded height (a full sequence from 0, or one
    /// token anywhere) the tables are shared `positions x head_dim` weights read at the rows'
    /// positions; otherwise they are `seq x cols` weights for exactly these positions.
    pub fn rope(
        &mut self,
        input: NodeId,
        log_head_dim: u32,
        theta: f64,
        pos0: usize,
    ) -> Result<NodeId, GraphError> {
        self.rope_scaled(input, log_head_dim, theta, RopeScaling::None, pos0)
    }

    /// [`Self::rope`] with the frequencies of `scaling`.
    pub fn rope_scaled(
        &mut self,
        input: NodeId,
        log_head_dim: u32,
        theta: f64,
        scaling: RopeScaling,
        pos0: usize,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let d = 1usize << log_head_dim;
        let padded_rows = 1usize << x.shape.log_rows();
        let tag = scaling.tag();
        let angle = |pos: usize, c: usize, sin: bool| -> i64 {
            let freq = scaling.inv_freq(theta, d, (c % d) % (d / 2));
            let a = pos as f64 * freq;
            let v = if sin { a.sin() } else { a.cos() };
            (v * (1u64 << ROPE_SCALE) as f64).round() as i64
        };
        let kind = |sin: bool| if sin { "sin" } else { "cos" };
        let rot = self.rotate_half(input, log_head_dim)?;
        let (a, b) = if pos0.is_multiple_of(padded_rows) {
            // One row per position, one column per head dimension: shared by all heads and by
            // every decoding step until the sequence outgrows `positions`.
            let positions = (pos0 + padded_rows)
                .next_power_of_two()
                .max(MIN_ROPE_POSITIONS);
            let table = |sin: bool| Weight {
                name: format!("rope/{}/{positions}x{d}/{theta}{tag}", kind(sin)),
                shape: Shape::new(positions, d),
                scale: ROPE_SCALE,
                data: (0..positions * d)
                    .map(|i| angle(i / d, i % d, sin))
                    .collect(),
            };
            (
                self.mul_weight_rows(input, table(false), pos0)?,
                self.mul_weight_rows(rot, table(true), pos0)?,
            )
        } else {
            let (seq, cols) = (x.shape.rows, x.shape.cols);
            let table = |sin: bool| Weight {
                name: format!("rope/{}/{seq}x{cols}/{pos0}{tag}", kind(sin)),
                shape: Shape::new(seq, cols),
                scale: ROPE_SCALE,
                data: (0..seq * cols)
                    .map(|i| angle(pos0 + i / cols, i % cols, sin))
                    .collect(),
            };
            (
                self.mul_weight(input, table(false))?,
                self.mul_weight(rot, table(true))?,
            )
        };
        let y = self.add(a, b)?;
        self.rescale(y, ROPE_SCALE)
    }
}

#[cfg(test)]
mod tests {
    use super::RopeScaling;

    /// Llama 3's bands: short wavelengths kept, long ones stretched by the factor, the band
    /// between interpolated (monotone in the wavelength, between the two).
    #[test]
    fn llama3_frequencies_by_band() {
        let s = RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position: 64.0,
        };
        let (theta, d) = (10_000.0, 16);
        let base = |i: usize| RopeScaling::None.inv_freq(theta, d, i);
        // Wavelengths 6.3, 19.9, 62.8, 199, ...: below 16 kept, above 64 divided by 8.
        assert_eq!(s.inv_freq(theta, d, 0), base(0));
        for i in 3..8 {
            assert!((s.inv_freq(theta, d, i) - base(i) / 8.0).abs() < 1e-15);
        }
        for i in 1..3 {
            let f = s.inv_freq(theta, d, i);
            assert!(f < base(i) && f > base(i) / 8.0, "pair {i}");
        }
        let linear = RopeScaling::Linear { factor: 2.0 };
        assert_eq!(linear.inv_freq(theta, d, 5), base(5) / 2.0);
    }
}
