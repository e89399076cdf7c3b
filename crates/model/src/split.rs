//! Matmuls over dimensions that are not powers of two, as power-of-two blocks.
//!
//! Every tensor is padded to powers of two, so a `5120 x 17408` weight would be committed and
//! reduced as `8192 x 32768` (2.9x its size). [`GraphBuilder::matmul_blocks`] instead splits
//! `k = sum 2^a_i` and `n = sum 2^b_j` (descending, every block at least [`MIN_BLOCK`]) into
//! exact blocks: `y_j = sum_i x[:, rows_i] . W_ij`, the `y_j` side by side
//! ([`Op::ConcatAligned`]). Column slices and the concatenation are relabellings or one
//! message per part; each block's matmul sumcheck and opening are as large as the block.
//! Also the product with a weight already in the graph, transposed (a tied LM head).

use crate::graph::{GraphBuilder, GraphError, NodeId, Op, Weight, WeightId};
use crate::tensor::Shape;

/// Smallest block: dimensions with bits below it are left to plain padding.
pub const MIN_BLOCK: usize = 16;

/// `(offset, width)` of the power-of-two parts of `n`, largest first; `None` if `n` has a bit
/// below [`MIN_BLOCK`].
pub fn blocks(n: usize) -> Option<Vec<(usize, usize)>> {
    if n == 0 || !n.is_multiple_of(MIN_BLOCK) {
        return None;
    }
    let mut out = Vec::new();
    let mut offset = 0;
    for bit in (0..usize::BITS).rev() {
        let w = 1usize << bit;
        if n & w != 0 {
            out.push((offset, w));
            offset += w;
        }
    }
    Some(out)
}

impl GraphBuilder {
    /// The parts side by side ([`Op::ConcatAligned`]).
    pub fn concat_aligned(&mut self, parts: &[NodeId]) -> Result<NodeId, GraphError> {
        let first = self
            .node(*parts.first().ok_or(GraphError::NoInput)?)?
            .clone();
        let mut cols = 0;
        let mut prev = usize::MAX;
        for &p in parts {
            let n = self.node(p)?;
            let w = n.shape.cols;
            if n.shape.rows != first.shape.rows
                || n.scale != first.scale
                || w < 2
                || !w.is_power_of_two()
                || w > prev
            {
                return Err(GraphError::ShapeMismatch {
                    node: self.nodes.len(),
                    op: "concat_aligned",
                    detail: "parts must share rows and scale, with power-of-two widths >= 2 in \
                             non-increasing order"
                        .into(),
                });
            }
            prev = w;
            cols += w;
        }
        self.push(
            Op::ConcatAligned {
                parts: parts.to_vec(),
            },
            Shape::new(first.shape.rows, cols),
            first.scale,
        )
    }

    /// `input . weight` as exact power-of-two blocks when a dimension is not a power of two
    /// (see the module documentation); a plain [`GraphBuilder::matmul`] otherwise.
    pub fn matmul_blocks(&mut self, input: NodeId, weight: &Weight) -> Result<NodeId, GraphError> {
        let outs = self.matmul_block_parts(input, weight)?;
        if outs.len() == 1 {
            Ok(outs[0])
        } else {
            self.concat_aligned(&outs)
        }
    }

    /// [`Self::matmul_blocks`] without the final concatenation: one output per power-of-two
    /// block of `weight`'s columns, in order (a single node when no split applies). Elementwise
    /// work on the parts then runs on exact sizes instead of the padded concatenation.
    pub fn matmul_block_parts(
        &mut self,
        input: NodeId,
        weight: &Weight,
    ) -> Result<Vec<NodeId>, GraphError> {
        let (k, n) = (weight.shape.rows, weight.shape.cols);
        let (rows, cols) = match (blocks(k), blocks(n)) {
            (Some(r), Some(c)) if r.len() > 1 || c.len() > 1 => (r, c),
            _ => return Ok(vec![self.matmul(input, weight.clone())?]),
        };
        let x = self.node(input)?.clone();
        if x.shape.cols != k {
            return Ok(vec![self.matmul(input, weight.clone())?]);
        }
        let parts: Vec<NodeId> = if rows.len() == 1 {
            vec![input]
        } else {
            rows.iter()
                .map(|&(off, w)| self.column_slice(input, off, w))
                .collect::<Result<_, _>>()?
        };
        self.block_products(&parts, &rows, &cols, weight)
    }

    /// `[x_0 | x_1 | ..] . weight` for an input given as its power-of-two column parts (as
    /// [`Self::matmul_block_parts`] returns them for `weight`'s rows), concatenated over the
    /// column blocks. The parts' widths must be `weight`'s row blocks.
    pub fn matmul_from_parts(
        &mut self,
        parts: &[NodeId],
        weight: &Weight,
    ) -> Result<NodeId, GraphError> {
        if let [input] = parts {
            return self.matmul_blocks(*input, weight);
        }
        let (k, n) = (weight.shape.rows, weight.shape.cols);
        let widths: Vec<usize> = parts
            .iter()
            .map(|&p| self.node(p).map(|n| n.shape.cols))
            .collect::<Result<_, _>>()?;
        let rows = blocks(k).filter(|r| r.iter().map(|b| b.1).eq(widths.iter().copied()));
        let (Some(rows), Some(cols)) = (rows, blocks(n)) else {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "matmul_from_parts",
                detail: format!(
                    "input parts of widths {widths:?} are not the power-of-two blocks of {k}"
                ),
            });
        };
        let outs = self.block_products(parts, &rows, &cols, weight)?;
        if outs.len() == 1 {
            Ok(outs[0])
        } else {
            self.concat_aligned(&outs)
        }
    }

    /// `y_j = sum_i parts[i] . W_ij` for every column block `j`.
    fn block_products(
        &mut self,
        parts: &[NodeId],
        rows: &[(usize, usize)],
        cols: &[(usize, usize)],
        weight: &Weight,
    ) -> Result<Vec<NodeId>, GraphError> {
        let n = weight.shape.cols;
        let mut outs = Vec::with_capacity(cols.len());
        for (j, &(c0, cw)) in cols.iter().enumerate() {
            let mut acc: Option<NodeId> = None;
            for (i, (&(r0, rw), &xi)) in rows.iter().zip(parts).enumerate() {
                let data = weight.data.block(n, r0, rw, c0, cw);
                let block = Weight {
                    name: format!("{}[{i},{j}]", weight.name),
                    shape: Shape::new(rw, cw),
                    scale: weight.scale,
                    data,
                };
                let y = self.matmul(xi, block)?;
                acc = Some(match acc {
                    None => y,
                    Some(a) => self.add(a, y)?,
                });
            }
            outs.push(acc.ok_or(GraphError::NoInput)?);
        }
        Ok(outs)
    }
}

impl GraphBuilder {
    /// `input . W^T` for the weight `weight` already in the graph (stored `n x k`, e.g. an
    /// embedding table read again as a tied LM head): no new weight is added.
    pub fn matmul_transposed(
        &mut self,
        input: NodeId,
        weight: WeightId,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let id = self.nodes.len();
        let w = self.weights.get(weight).ok_or(GraphError::BadOperand {
            node: id,
            operand: weight,
        })?;
        if x.shape.cols != w.shape.cols {
            return Err(GraphError::ShapeMismatch {
                node: id,
                op: "matmul_transposed",
                detail: format!(
                    "activation {}x{} times the transpose of weight {}x{}",
                    x.shape.rows, x.shape.cols, w.shape.rows, w.shape.cols
                ),
            });
        }
        let (n, scale) = (w.shape.rows, x.scale + w.scale);
        self.push(
            Op::MatMulTransposed { input, weight },
            Shape::new(x.shape.rows, n),
            scale,
        )
    }

    /// The weight an op of node `node` reads, if any.
    pub fn weight_of(&self, node: NodeId) -> Option<WeightId> {
        match self.nodes.get(node)?.op {
            Op::MatMul { weight, .. }
            | Op::MatMulTransposed { weight, .. }
            | Op::Embedding { table: weight, .. } => Some(weight),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_decompose_exactly() {
        assert_eq!(blocks(5120), Some(vec![(0, 4096), (4096, 1024)]));
        assert_eq!(blocks(17408), Some(vec![(0, 16384), (16384, 1024)]));
        assert_eq!(blocks(4096), Some(vec![(0, 4096)]));
        assert_eq!(blocks(896), Some(vec![(0, 512), (512, 256), (768, 128)]));
        assert_eq!(blocks(100), None);
        assert_eq!(blocks(0), None);
    }
}
