//! Integer matrix products of the executor: `x . W` (weights row-major `k x n`, column blocks
//! in parallel, row tiles sharing each pass over the weights, `f64` where exact) and
//! `x . W^T` (a tied LM head: dot products of `x`'s rows with `W`'s rows), both accumulating
//! in `i64`, or `i128` saturated where the operands' bounds allow an overflow (the caller
//! reports it).

use rayon::prelude::*;

use crate::tensor::{Shape, Tensor};
use crate::MAX_ABS;

/// Column block processed by one task of the matmul.
const COL_BLOCK: usize = 512;
/// Input rows that share one pass over a block of weight columns.
const ROW_TILE: usize = 16;

/// `x (m x k) . w (k x n)` with 64-bit accumulation. Operands are bounded by the checks of
/// the executor (activations < 2^31, weights <= MAX_ABS) so no product overflows i64 for
/// any realistic k; the result is range-checked by the caller.
pub fn matmul(x: &Tensor, w: &[i64], w_shape: Shape) -> Tensor {
    let (m, k, n) = (x.shape.rows, x.shape.cols, w_shape.cols);
    // Fast path when no i64 accumulator can overflow even with the largest legal weights;
    // otherwise accumulate in i128 and saturate (the caller reports the overflow).
    let w_max = if w.len() <= k * 64 {
        w.iter().map(|v| v.abs()).max().unwrap_or(0)
    } else {
        MAX_ABS
    };
    let x_max = x.max_abs();
    if (x_max as i128) * (w_max as i128) * (k as i128) >= (1i128 << 62) {
        return matmul_wide(x, w, w_shape);
    }
    // One task per block of output columns; within it, tiles of `ROW_TILE` input rows share
    // each pass over the block's weights, so the weights are read `m / ROW_TILE` times, not
    // `m` times (at seq 128 and 330 M weights this is what bounds the forward pass).
    let blocks: Vec<Vec<i64>> = (0..n.div_ceil(COL_BLOCK))
        .into_par_iter()
        .map(|blk| {
            let c0 = blk * COL_BLOCK;
            let width = COL_BLOCK.min(n - c0);
            let mut res = vec![0i64; m * width];
            if m >= ROW_TILE {
                let block_max = (0..k)
                    .flat_map(|kk| &w[kk * n + c0..kk * n + c0 + width])
                    .map(|v| v.abs())
                    .max()
                    .unwrap_or(0);
                if (x_max as i128) * (block_max as i128) * (k as i128) < F64_EXACT {
                    matmul_block_f64(x, w, n, c0, &mut res, width);
                    return res;
                }
            }
            for (tile, acc) in res.chunks_mut(ROW_TILE * width).enumerate() {
                let r0 = tile * ROW_TILE;
                for kk in 0..k {
                    let wrow = &w[kk * n + c0..kk * n + c0 + width];
                    for (r, acc_row) in acc.chunks_mut(width).enumerate() {
                        let av = x.data[(r0 + r) * k + kk];
                        if av == 0 {
                            continue;
                        }
                        for (o, &wv) in acc_row.iter_mut().zip(wrow) {
                            *o += av * wv;
                        }
                    }
                }
            }
            res
        })
        .collect();
    let mut out = vec![0i64; m * n];
    out.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        for (blk, res) in blocks.iter().enumerate() {
            let c0 = blk * COL_BLOCK;
            let width = COL_BLOCK.min(n - c0);
            row[c0..c0 + width].copy_from_slice(&res[i * width..(i + 1) * width]);
        }
    });
    Tensor::new(Shape::new(m, n), out)
}

/// Sums below this bound are exact in `f64` (53-bit mantissa).
const F64_EXACT: i128 = 1 << 53;

/// One block of output columns `c0 .. c0 + width` in `f64`, exact because the caller checked
/// `max|x| max|w| k < 2^53` (every product and partial sum is an integer below `2^53`). Vector
/// units multiply `f64` far faster than `i64`.
fn matmul_block_f64(x: &Tensor, w: &[i64], n: usize, c0: usize, res: &mut [i64], width: usize) {
    let k = x.shape.cols;
    let mut wrow = vec![0f64; width];
    let mut acc = vec![0f64; ROW_TILE * width];
    for (tile, out) in res.chunks_mut(ROW_TILE * width).enumerate() {
        let r0 = tile * ROW_TILE;
        let rows = out.len() / width;
        let acc = &mut acc[..rows * width];
        acc.fill(0.0);
        for kk in 0..k {
            for (d, &v) in wrow.iter_mut().zip(&w[kk * n + c0..kk * n + c0 + width]) {
                *d = v as f64;
            }
            for (r, acc_row) in acc.chunks_mut(width).enumerate() {
                let av = x.data[(r0 + r) * k + kk];
                if av == 0 {
                    continue;
                }
                let av = av as f64;
                for (o, &wv) in acc_row.iter_mut().zip(&wrow) {
                    *o += av * wv;
                }
            }
        }
        for (o, &a) in out.iter_mut().zip(acc.iter()) {
            *o = a as i64;
        }
    }
}

fn matmul_wide(x: &Tensor, w: &[i64], w_shape: Shape) -> Tensor {
    let (m, k, n) = (x.shape.rows, x.shape.cols, w_shape.cols);
    let mut out = vec![0i64; m * n];
    out.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        for (j, o) in row.iter_mut().enumerate() {
            let acc: i128 = (0..k)
                .map(|t| x.data[i * k + t] as i128 * w[t * n + j] as i128)
                .sum();
            *o = acc.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        }
    });
    Tensor::new(Shape::new(m, n), out)
}

/// `x (m x k) . w^T` for `w` stored row-major `n x k` (the transpose of a `k x n` weight).
pub fn matmul_transposed(x: &Tensor, w: &[i64], w_shape: Shape) -> Tensor {
    let (m, k, n) = (x.shape.rows, x.shape.cols, w_shape.rows);
    let w_max = w.iter().map(|v| v.abs()).max().unwrap_or(0);
    let wide = (x.max_abs() as i128) * (w_max as i128) * (k as i128) >= (1i128 << 62);
    let mut out = vec![0i64; m * n];
    out.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        let xr = &x.data[i * k..(i + 1) * k];
        for (o, wr) in row.iter_mut().zip(w.chunks(k)) {
            *o = if wide {
                let acc: i128 = xr
                    .iter()
                    .zip(wr)
                    .map(|(&a, &b)| a as i128 * b as i128)
                    .sum();
                acc.clamp(i64::MIN as i128, i64::MAX as i128) as i64
            } else {
                xr.iter().zip(wr).map(|(&a, &b)| a * b).sum()
            };
        }
    });
    Tensor::new(Shape::new(m, n), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_product_is_the_product_with_the_transpose() {
        let x = Tensor::new(Shape::new(3, 4), (0..12).map(|v| v * 7 % 11 - 5).collect());
        let w: Vec<i64> = (0..20).map(|v| v * 5 % 13 - 6).collect(); // 5 x 4
        let t: Vec<i64> = (0..20).map(|i| w[(i % 5) * 4 + i / 5]).collect(); // 4 x 5
        assert_eq!(
            matmul_transposed(&x, &w, Shape::new(5, 4)),
            matmul(&x, &t, Shape::new(4, 5))
        );
    }
}
