//! The executor's data-moving ops: column and row slices, concatenations of column blocks,
//! a column broadcast, row sums and RoPE's half rotation. Integer-exact; the shapes were
//! checked when the graph was built.

use crate::tensor::{Shape, Tensor};
use crate::NodeId;

/// Columns `start .. start + len` of every row.
pub(crate) fn column_slice(x: &Tensor, start: usize, len: usize) -> Tensor {
    let data = x
        .data
        .chunks(x.shape.cols)
        .flat_map(|row| row[start..start + len].iter().copied())
        .collect();
    Tensor::new(Shape::new(x.shape.rows, len), data)
}

/// The parts side by side, row by row (`ConcatAligned` and `ConcatColumns`: parts of any
/// widths with the same rows).
pub(crate) fn concat(parts: &[NodeId], values: &[Tensor]) -> Tensor {
    let rows = values[parts[0]].shape.rows;
    let cols: usize = parts.iter().map(|&p| values[p].shape.cols).sum();
    let mut data = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for &p in parts {
            let w = values[p].shape.cols;
            data.extend_from_slice(&values[p].data[r * w..(r + 1) * w]);
        }
    }
    Tensor::new(Shape::new(rows, cols), data)
}

/// Each entry of a column repeated across `cols` columns.
pub(crate) fn broadcast_column(x: &Tensor, cols: usize) -> Tensor {
    let data = x
        .data
        .iter()
        .flat_map(|&v| std::iter::repeat_n(v, cols))
        .collect();
    Tensor::new(Shape::new(x.shape.rows, cols), data)
}

/// A `1 x n` row repeated down `rows` rows.
pub(crate) fn broadcast_row(x: &Tensor, rows: usize) -> Tensor {
    let data = (0..rows).flat_map(|_| x.data.iter().copied()).collect();
    Tensor::new(Shape::new(rows, x.shape.cols), data)
}

/// The sum of each row, as a column.
pub(crate) fn row_sum(x: &Tensor) -> Tensor {
    let data = x
        .data
        .chunks(x.shape.cols)
        .map(|r| r.iter().sum())
        .collect();
    Tensor::new(Shape::new(x.shape.rows, 1), data)
}

/// In every block of `2^log_block` columns, `(-second half, first half)`.
pub(crate) fn rotate_half(x: &Tensor, log_block: u32) -> Tensor {
    let (blk, half) = (1usize << log_block, 1usize << (log_block - 1));
    let cols = x.shape.cols;
    let data = (0..x.data.len())
        .map(|i| {
            let c = i % cols;
            if c % blk < half {
                -x.data[i + half]
            } else {
                x.data[i - half]
            }
        })
        .collect();
    Tensor::new(x.shape, data)
}

/// Rows `start .. start + len`.
pub(crate) fn row_slice(x: &Tensor, start: usize, len: usize) -> Tensor {
    let c = x.shape.cols;
    Tensor::new(
        Shape::new(len, c),
        x.data[start * c..(start + len) * c].to_vec(),
    )
}
