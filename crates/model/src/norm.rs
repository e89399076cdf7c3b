//! Normalisation layers and the element-wise building blocks they use: row sums, constant
//! scaling and offsets, column- and weight-broadcast products, and RMSNorm built from them.

use crate::func::Func;
use crate::graph::{GraphBuilder, GraphError, NodeId, Op, Weight};
use crate::tensor::Shape;

impl GraphBuilder {
    /// `y_i = sum_j x_ij` (`m x n -> m x 1`).
    pub fn row_sum(&mut self, input: NodeId) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        Ok(self.push(Op::RowSum { input }, Shape::new(x.shape.rows, 1), x.scale))
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
        Ok(self.push(
            Op::MulConst {
                input,
                c,
                frac_bits,
            },
            x.shape,
            x.scale + frac_bits,
        ))
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
        Ok(self.push(Op::AddConst { input, c }, x.shape, x.scale))
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
        Ok(self.push(Op::MulColumn { lhs, rhs }, l.shape, l.scale + r.scale))
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
        Ok(self.push(Op::MulWeight { input, weight: w }, x.shape, scale))
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
        Ok(self.push(
            Op::BroadcastColumn { input, cols },
            Shape::new(x.shape.rows, cols),
            x.scale,
        ))
    }

    /// The row mean of `input` at its scale, as an `m x 1` column: row sum times
    /// `round(2^16 / n)`, rescaled by 16.
    fn row_mean(&mut self, input: NodeId) -> Result<NodeId, GraphError> {
        let n = self.node(input)?.shape.cols;
        let sum = self.row_sum(input)?;
        let inv_n = ((1u64 << 16) as f64 / n as f64).round() as i64;
        let mean = self.mul_const(sum, inv_n.max(1), 16)?;
        self.rescale(mean, 16)
    }

    /// `x * rsqrt(mean(x^2) + eps)` at the input's scale (the shared core of the norms).
    fn normalise(&mut self, input: NodeId, eps: f64) -> Result<NodeId, GraphError> {
        let s = self.node(input)?.scale;
        let sq = self.mul(input, input)?;
        let sq = self.rescale(sq, s)?;
        let mean = self.row_mean(sq)?;
        let eps_q = ((eps * (1u64 << s) as f64).round() as i64).max(1);
        let mean = self.add_const(mean, eps_q)?;
        let inv = self.activation(mean, Func::Rsqrt, 12)?;
        let xn = self.mul_column(input, inv)?;
        self.rescale(xn, 12)
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
        let n = self.node(input)?.shape.cols;
        let mean = self.row_mean(input)?;
        let mean = self.broadcast_column(mean, n)?;
        let neg = self.mul_const(mean, -1, 0)?;
        let centred = self.add(input, neg)?;
        let xn = self.normalise(centred, eps)?;
        let gain_scale = gain.scale;
        let y = self.mul_weight(xn, gain)?;
        let y = self.rescale(y, gain_scale)?;
        self.add_bias(y, bias)
    }

    /// RMSNorm over each row: `x / sqrt(mean(x^2) + eps) * gain`, back at the input's scale.
    ///
    /// Steps (each proved): `x*x` rescaled to the input scale, row sum, multiplication by
    /// `round(2^16 / n)` and a rescale by 16 (the mean), `+ eps`, `rsqrt` by a committed table
    /// with 12 fractional bits, the column-broadcast product and the gain product, each
    /// followed by a rescale.
    pub fn rms_norm(
        &mut self,
        input: NodeId,
        gain: Weight,
        eps: f64,
    ) -> Result<NodeId, GraphError> {
        let xn = self.normalise(input, eps)?;
        let gain_scale = gain.scale;
        let y = self.mul_weight(xn, gain)?;
        self.rescale(y, gain_scale)
    }
}
