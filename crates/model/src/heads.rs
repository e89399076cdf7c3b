//! Splitting a projection into attention heads and joining the heads again.

use crate::graph::{GraphBuilder, GraphError, NodeId, Op};
use crate::tensor::Shape;

impl GraphBuilder {
    /// Columns `[start, start + len)`; `len` a power of two of at least 2 dividing `start`.
    pub fn column_slice(
        &mut self,
        input: NodeId,
        start: usize,
        len: usize,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let ok = len >= 2
            && len.is_power_of_two()
            && start.is_multiple_of(len)
            && start + len <= x.shape.cols;
        if !ok {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "column_slice",
                detail: format!(
                    "columns {start}..{} of {}: need an aligned power-of-two width >= 2",
                    start + len,
                    x.shape.cols
                ),
            });
        }
        self.push(
            Op::ColumnSlice { input, start, len },
            Shape::new(x.shape.rows, len),
            x.scale,
        )
    }

    /// Rows `[start, start + len)` of `input`, `len` a power of two dividing `start`.
    pub fn row_slice(
        &mut self,
        input: NodeId,
        start: usize,
        len: usize,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let ok = len.is_power_of_two() && start.is_multiple_of(len) && start + len <= x.shape.rows;
        if !ok {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "row_slice",
                detail: format!(
                    "rows {start}..{} of {}: need an aligned power-of-two height",
                    start + len,
                    x.shape.rows
                ),
            });
        }
        self.push(
            Op::RowSlice { input, start, len },
            Shape::new(len, x.shape.cols),
            x.scale,
        )
    }

    /// The parts side by side; all of one shape `m x w` with `w` a power of two >= 2 and one
    /// scale.
    pub fn concat_columns(&mut self, parts: &[NodeId]) -> Result<NodeId, GraphError> {
        let first = self
            .node(*parts.first().ok_or(GraphError::NoInput)?)?
            .clone();
        let w = first.shape.cols;
        for &p in parts {
            let n = self.node(p)?;
            if n.shape != first.shape || n.scale != first.scale || w < 2 || !w.is_power_of_two() {
                return Err(GraphError::ShapeMismatch {
                    node: self.nodes.len(),
                    op: "concat_columns",
                    detail: "parts must share one shape m x 2^k (k >= 1) and one scale".into(),
                });
            }
        }
        self.push(
            Op::ConcatColumns {
                parts: parts.to_vec(),
            },
            Shape::new(first.shape.rows, w * parts.len()),
            first.scale,
        )
    }
}
