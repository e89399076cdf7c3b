//! Rotary position embeddings: `x * cos + rotate_half(x) * sin` per head, with the rotation
//! tables stored as (committed) weights.

use crate::graph::{GraphBuilder, GraphError, NodeId, Op, Weight};
use crate::tensor::Shape;

/// Fractional bits of the RoPE cos/sin tables.
pub const ROPE_SCALE: u32 = 14;

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
        Ok(self.push(Op::RotateHalf { input, log_block }, x.shape, x.scale))
    }

    /// RoPE on `input` (`seq x (heads * head_dim)`, rows at positions `pos0, pos0 + 1, ...`),
    /// with `head_dim = 2^log_head_dim` and base `theta`; the result is at the input's scale.
    pub fn rope(
        &mut self,
        input: NodeId,
        log_head_dim: u32,
        theta: f64,
        pos0: usize,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let (seq, cols) = (x.shape.rows, x.shape.cols);
        let d = 1usize << log_head_dim;
        let table = |sin: bool| -> Weight {
            let data = (0..seq * cols)
                .map(|i| {
                    let (pos, c) = ((pos0 + i / cols) as f64, (i % cols) % d);
                    let freq = theta.powf(-2.0 * (c % (d / 2)) as f64 / d as f64);
                    let a = pos * freq;
                    let v = if sin { a.sin() } else { a.cos() };
                    (v * (1u64 << ROPE_SCALE) as f64).round() as i64
                })
                .collect();
            Weight {
                name: format!(
                    "rope/{}/{seq}x{cols}/{pos0}",
                    if sin { "sin" } else { "cos" }
                ),
                shape: Shape::new(seq, cols),
                scale: ROPE_SCALE,
                data,
            }
        };
        let rot = self.rotate_half(input, log_head_dim)?;
        let a = self.mul_weight(input, table(false))?;
        let b = self.mul_weight(rot, table(true))?;
        let y = self.add(a, b)?;
        self.rescale(y, ROPE_SCALE)
    }
}
