//! Prover kernels (SIMD + rayon): segment sums for the sumcheck and hypercube folding.

use std::array;

use num_traits::Zero;
use rayon::prelude::*;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::prover::backend::simd::m31::{PackedM31, N_LANES};
use stwo::prover::backend::simd::qm31::PackedQM31;
use sumcheck::eq_evals;

/// A hypercube table: the committed base-field evaluations or a folded extension table.
pub(crate) enum Table<'a> {
    Base(&'a [M31]),
    Ext(Vec<QM31>),
}

impl Table<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Table::Base(v) => v.len(),
            Table::Ext(v) => v.len(),
        }
    }
}

/// Elements per parallel task.
const TASK: usize = 1 << 15;
/// Variables of the low half of a split eq table.
const EQ_LO_LOG: usize = 11;

#[inline]
fn load_m31(v: &[M31]) -> PackedM31 {
    PackedM31::from_array(array::from_fn(|l| v[l]))
}

#[inline]
fn load_qm31(v: &[QM31]) -> PackedQM31 {
    PackedQM31::from_array(array::from_fn(|l| v[l]))
}

/// `sum_i w[i] * row[i]` lane-wise, `row.len() = 16 * w.len()`.
#[inline]
fn dot_lanes(table: &Table<'_>, off: usize, w: &[PackedQM31]) -> PackedQM31 {
    let mut acc = PackedQM31::zero();
    match table {
        Table::Base(v) => {
            for (i, &e) in w.iter().enumerate() {
                acc += e * load_m31(&v[off + i * N_LANES..]);
            }
        }
        Table::Ext(v) => {
            for (i, &e) in w.iter().enumerate() {
                acc += e * load_qm31(&v[off + i * N_LANES..]);
            }
        }
    }
    acc
}

/// `S[p] = sum_r eq(tail, r) T[p * R + r]` for the `2^s` prefixes `p`, `R = 2^tail.len()`.
///
/// `eq(tail, r)` is split as `eq(tail_hi, r_hi) eq(tail_lo, r_lo)` (at most `2^EQ_LO_LOG`
/// low entries), so no `R`-entry eq table is built and the inner loop is one SIMD pass.
pub(crate) fn segment_sums(table: &Table<'_>, s: usize, tail: &[QM31]) -> Vec<QM31> {
    let r_len = 1usize << tail.len();
    debug_assert_eq!(table.len(), r_len << s);
    let n_p = 1usize << s;
    if r_len < N_LANES {
        let eq = eq_evals(tail);
        return (0..n_p)
            .map(|p| {
                (0..r_len)
                    .map(|r| {
                        let t: QM31 = match table {
                            Table::Base(v) => v[p * r_len + r].into(),
                            Table::Ext(v) => v[p * r_len + r],
                        };
                        eq[r] * t
                    })
                    .sum()
            })
            .collect();
    }
    let lo_log = tail.len().min(EQ_LO_LOG);
    let (tail_hi, tail_lo) = tail.split_at(tail.len() - lo_log);
    let eq_hi = eq_evals(tail_hi);
    let eq_lo: Vec<PackedQM31> = eq_evals(tail_lo)
        .chunks_exact(N_LANES)
        .map(|c| PackedQM31::from_array(array::from_fn(|l| c[l])))
        .collect();
    let lo_len = 1usize << lo_log;
    // Tasks: (prefix, range of hi indices).
    let hi_per_task = (TASK / lo_len).clamp(1, eq_hi.len());
    let tasks_per_p = eq_hi.len() / hi_per_task;
    let partial: Vec<PackedQM31> = (0..n_p * tasks_per_p)
        .into_par_iter()
        .map(|task| {
            let (p, h0) = (task / tasks_per_p, (task % tasks_per_p) * hi_per_task);
            let mut acc = PackedQM31::zero();
            for h in h0..h0 + hi_per_task {
                let inner = dot_lanes(table, p * r_len + h * lo_len, &eq_lo);
                acc += inner * PackedQM31::broadcast(eq_hi[h]);
            }
            acc
        })
        .collect();
    partial
        .chunks(tasks_per_p)
        .map(|c| c.iter().copied().sum::<PackedQM31>().pointwise_sum())
        .collect()
}

/// `T'(r) = sum_p eq(alphas, p) T[p * R + r]`: fixes the first `alphas.len()` variables.
pub(crate) fn fold_table(table: &Table<'_>, alphas: &[QM31]) -> Vec<QM31> {
    let s = alphas.len();
    let r_len = table.len() >> s;
    let w = eq_evals(alphas);
    let mut out = vec![QM31::zero(); r_len];
    if r_len < N_LANES {
        for (r, o) in out.iter_mut().enumerate() {
            *o = w
                .iter()
                .enumerate()
                .map(|(p, &wp)| match table {
                    Table::Base(v) => wp * v[p * r_len + r],
                    Table::Ext(v) => wp * v[p * r_len + r],
                })
                .sum();
        }
        return out;
    }
    // Blocks of output columns; each block streams over the 2^s rows.
    const BLOCK: usize = 64;
    let wb: Vec<PackedQM31> = w.iter().map(|&x| PackedQM31::broadcast(x)).collect();
    let block_len = (BLOCK * N_LANES).min(r_len);
    let min_blocks = (TASK / (block_len << s)).max(1);
    out.par_chunks_mut(block_len)
        .with_min_len(min_blocks)
        .enumerate()
        .for_each(|(b, o)| {
            let r0 = b * block_len;
            let mut acc = [PackedQM31::zero(); BLOCK];
            let acc = &mut acc[..block_len / N_LANES];
            for (p, &wp) in wb.iter().enumerate() {
                let off = p * r_len + r0;
                match table {
                    Table::Base(v) => {
                        for (i, a) in acc.iter_mut().enumerate() {
                            *a += wp * load_m31(&v[off + i * N_LANES..]);
                        }
                    }
                    Table::Ext(v) => {
                        for (i, a) in acc.iter_mut().enumerate() {
                            *a += wp * load_qm31(&v[off + i * N_LANES..]);
                        }
                    }
                }
            }
            for (dst, a) in o.chunks_exact_mut(N_LANES).zip(acc.iter()) {
                dst.copy_from_slice(&a.to_array());
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn rq(rng: &mut impl Rng) -> QM31 {
        QM31::from_m31_array(array::from_fn(|_| M31::from(rng.gen::<u32>() >> 1)))
    }

    /// The SIMD kernels against direct sums, over base and extension tables.
    #[test]
    fn kernels_match_reference() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for (n, s) in [(3usize, 1usize), (6, 2), (9, 4), (14, 1), (15, 8), (16, 3)] {
            let base: Vec<M31> = (0..1 << n)
                .map(|_| M31::from(rng.gen::<u32>() >> 1))
                .collect();
            let ext: Vec<QM31> = (0..1 << n).map(|_| rq(&mut rng)).collect();
            let tail: Vec<QM31> = (0..n - s).map(|_| rq(&mut rng)).collect();
            let alphas: Vec<QM31> = (0..s).map(|_| rq(&mut rng)).collect();
            let eq = eq_evals(&tail);
            let w = eq_evals(&alphas);
            let ext_of_base: Vec<QM31> = base.iter().map(|&v| v.into()).collect();
            for (tab, vals) in [
                (Table::Base(&base), &ext_of_base),
                (Table::Ext(ext.clone()), &ext),
            ] {
                let r_len = 1usize << (n - s);
                let sums = segment_sums(&tab, s, &tail);
                for p in 0..1 << s {
                    let want: QM31 = (0..r_len).map(|r| eq[r] * vals[p * r_len + r]).sum();
                    assert_eq!(sums[p], want, "sums n={n} s={s} p={p}");
                }
                let f = fold_table(&tab, &alphas);
                for r in 0..r_len {
                    let want: QM31 = (0..1 << s).map(|p| w[p] * vals[p * r_len + r]).sum();
                    assert_eq!(f[r], want, "fold n={n} s={s} r={r}");
                }
            }
        }
    }
}
