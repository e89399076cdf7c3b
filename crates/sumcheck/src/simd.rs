//! SIMD kernels on STWO's packed M31/QM31 types for the hot loops of the reductions.

use num_traits::Zero;
use rayon::prelude::*;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::prover::backend::simd::m31::{PackedM31, N_LANES};
use stwo::prover::backend::simd::qm31::PackedQM31;

/// Packs a QM31 slice into lanes; the tail is zero-padded.
pub fn pack_secure(v: &[QM31]) -> Vec<PackedQM31> {
    v.chunks(N_LANES)
        .map(|c| {
            let mut a = [QM31::zero(); N_LANES];
            a[..c.len()].copy_from_slice(c);
            PackedQM31::from_array(a)
        })
        .collect()
}

fn load_base(c: &[M31]) -> PackedM31 {
    let mut a = [M31::from_u32_unchecked(0); N_LANES];
    a[..c.len()].copy_from_slice(c);
    PackedM31::from_array(a)
}

/// Base-field values lifted into packed secure lanes (the tail zero-padded).
pub fn lift_base(v: &[M31]) -> Vec<PackedQM31> {
    v.chunks(N_LANES)
        .map(|c| PackedQM31::from(load_base(c)))
        .collect()
}

/// `scale * eq(point, b)` for all `b`, packed 16 entries per vector: the product of a scalar
/// table over the first variables and a packed table over the last `max(4, n / 2)`.
///
/// # Panics
/// Panics if `point` has fewer than 4 variables.
pub fn eq_evals_packed(point: &[QM31], scale: QM31) -> Vec<PackedQM31> {
    let n = point.len();
    assert!(n >= 4, "eq_evals_packed: fewer than 4 variables");
    let (hi, lo) = point.split_at(n - (n / 2).max(4));
    let hi = crate::mle::eq_evals_scaled(hi, scale);
    let lo = pack_secure(&crate::mle::eq_evals(lo));
    let row = |&h: &QM31| {
        let h = PackedQM31::broadcast(h);
        lo.iter().map(move |&e| e * h)
    };
    if hi.len() * lo.len() >= 1 << 10 {
        hi.par_iter().flat_map_iter(row).collect()
    } else {
        hi.iter().flat_map(row).collect()
    }
}

/// `sum_j base[j] * secure[j]` where `secure` is packed by [`pack_secure`].
pub fn dot_base_packed(base: &[M31], secure: &[PackedQM31]) -> QM31 {
    let mut acc = PackedQM31::zero();
    for (c, &s) in base.chunks(N_LANES).zip(secure) {
        acc += s * load_base(c);
    }
    acc.pointwise_sum()
}

/// For a row-major `rows x cols` base table, `out[r] = sum_c table[r][c] * v[c]`.
pub fn rows_dot(table: &[M31], cols: usize, v: &[QM31]) -> Vec<QM31> {
    let packed = pack_secure(v);
    table
        .par_chunks(cols)
        .map(|row| dot_base_packed(row, &packed))
        .collect()
}

/// For a row-major `rows x cols` base table, `out[c] = sum_r u[r] * table[r][c]`.
pub fn cols_dot(table: &[M31], cols: usize, u: &[QM31]) -> Vec<QM31> {
    let n_packed = cols.div_ceil(N_LANES);
    // Split the rows into a few blocks, accumulate each in parallel, then add.
    let n_blocks = rayon::current_num_threads().max(1) * 2;
    let rows = table.len() / cols;
    let block = rows.div_ceil(n_blocks).max(1);
    let partial: Vec<Vec<PackedQM31>> = (0..rows)
        .step_by(block)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|r0| {
            let mut acc = vec![PackedQM31::zero(); n_packed];
            for r in r0..(r0 + block).min(rows) {
                let row = &table[r * cols..(r + 1) * cols];
                let ur = u[r];
                for (a, c) in acc.iter_mut().zip(row.chunks(N_LANES)) {
                    *a += load_base(c) * ur;
                }
            }
            acc
        })
        .collect();
    let mut total = vec![PackedQM31::zero(); n_packed];
    for p in partial {
        total.iter_mut().zip(p).for_each(|(t, x)| *t += x);
    }
    let mut out: Vec<QM31> = total.iter().flat_map(|p| p.to_array()).collect();
    out.truncate(cols);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_tables_match_scalar_ones() {
        for n in [4usize, 5, 8, 11] {
            let point: Vec<QM31> = (0..n as u32)
                .map(|i| QM31::from_u32_unchecked(i + 2, 3 * i, 7, i ^ 1))
                .collect();
            let scale = QM31::from_u32_unchecked(9, 8, 7, 6);
            let want = crate::mle::eq_evals_scaled(&point, scale);
            let got: Vec<QM31> = eq_evals_packed(&point, scale)
                .iter()
                .flat_map(|p| p.to_array())
                .collect();
            assert_eq!(got, want, "n = {n}");
        }
        let base: Vec<M31> = (0..40u32).map(|i| M31::from(i * 31 + 5)).collect();
        let lifted: Vec<QM31> = lift_base(&base).iter().flat_map(|p| p.to_array()).collect();
        assert_eq!(
            &lifted[..40],
            &base.iter().map(|&v| v.into()).collect::<Vec<QM31>>()[..]
        );
        assert!(lifted[40..].iter().all(|v| *v == QM31::zero()));
    }

    #[test]
    fn kernels_match_scalar() {
        let (rows, cols) = (5usize, 37usize);
        let t: Vec<M31> = (0..rows * cols)
            .map(|i| M31::from((i * 7919 % 1000) as u32))
            .collect();
        let v: Vec<QM31> = (0..cols)
            .map(|i| QM31::from_u32_unchecked(i as u32, 1, 2, 3))
            .collect();
        let u: Vec<QM31> = (0..rows)
            .map(|i| QM31::from_u32_unchecked(3, i as u32, 5, 1))
            .collect();
        let rd = rows_dot(&t, cols, &v);
        let cd = cols_dot(&t, cols, &u);
        for r in 0..rows {
            let want: QM31 = (0..cols).map(|c| v[c] * t[r * cols + c]).sum();
            assert_eq!(rd[r], want);
        }
        for c in 0..cols {
            let want: QM31 = (0..rows).map(|r| u[r] * t[r * cols + c]).sum();
            assert_eq!(cd[c], want);
        }
    }
}
