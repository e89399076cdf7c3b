//! Prover kernels (SIMD + rayon): segment sums for the sumcheck, hypercube folding and the
//! fused multi-level codeword fold.

use std::array;

use num_traits::Zero;
use rayon::prelude::*;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::prover::backend::simd::m31::{PackedM31, N_LANES};
use stwo::prover::backend::simd::qm31::PackedQM31;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::poly::twiddles::TwiddleTree;
use sumcheck::eq_evals;

use crate::fold::fold_block;

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
    pub(crate) fn into_ext(self) -> Vec<QM31> {
        match self {
            Table::Base(v) => v.iter().map(|&x| x.into()).collect(),
            Table::Ext(v) => v,
        }
    }
}

const CHUNK: usize = 1 << 10;

/// `S[p] = sum_r eq(tail, r) T[p * R + r]` for the `2^s` prefixes `p`, `R = 2^tail.len()`.
pub(crate) fn segment_sums(table: &Table<'_>, s: usize, tail: &[QM31]) -> Vec<QM31> {
    let r_len = 1usize << tail.len();
    debug_assert_eq!(table.len(), r_len << s);
    let eq = eq_evals(tail);
    let n_p = 1usize << s;
    if r_len < N_LANES {
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
    let eq_packed: Vec<PackedQM31> = eq
        .chunks_exact(N_LANES)
        .map(|c| PackedQM31::from_array(array::from_fn(|l| c[l])))
        .collect();
    let n_vec = r_len / N_LANES;
    let acc = (0..n_vec)
        .into_par_iter()
        .with_min_len(CHUNK)
        .fold(
            || vec![PackedQM31::zero(); n_p],
            |mut acc, i| {
                let e = eq_packed[i];
                for (p, a) in acc.iter_mut().enumerate() {
                    let off = p * r_len + i * N_LANES;
                    match table {
                        Table::Base(v) => *a += e * load_m31(&v[off..]),
                        Table::Ext(v) => *a += e * load_qm31(&v[off..]),
                    }
                }
                acc
            },
        )
        .reduce(
            || vec![PackedQM31::zero(); n_p],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
    acc.into_iter().map(|a| a.pointwise_sum()).collect()
}

#[inline]
fn load_m31(v: &[M31]) -> PackedM31 {
    PackedM31::from_array(array::from_fn(|l| v[l]))
}

#[inline]
fn load_qm31(v: &[QM31]) -> PackedQM31 {
    PackedQM31::from_array(array::from_fn(|l| v[l]))
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
    let wb: Vec<PackedQM31> = w.iter().map(|&x| PackedQM31::broadcast(x)).collect();
    out.par_chunks_mut(N_LANES)
        .with_min_len(CHUNK / 4)
        .enumerate()
        .for_each(|(i, o)| {
            let mut acc = PackedQM31::zero();
            for (p, &wp) in wb.iter().enumerate() {
                let off = p * r_len + i * N_LANES;
                match table {
                    Table::Base(v) => acc += wp * load_m31(&v[off..]),
                    Table::Ext(v) => acc += wp * load_qm31(&v[off..]),
                }
            }
            o.copy_from_slice(&acc.to_array());
        });
    out
}

/// Inverse twiddles read from STWO's twiddle tree (stored doubled).
pub(crate) struct Twiddles<'a> {
    buf: &'a [u32],
}

impl<'a> Twiddles<'a> {
    pub(crate) fn new(tree: &'a TwiddleTree<SimdBackend>) -> Self {
        Self {
            buf: &tree.itwiddles,
        }
    }

    /// `1/x` for pair `q` of the line domain `half_odds(log)`.
    #[cfg(test)]
    pub(crate) fn line(&self, log: u32, q: usize) -> M31 {
        let n = self.buf.len();
        M31::from_u32_unchecked(self.buf[n - (1 << log) + q] >> 1)
    }

    /// `1/y` for pair `q` of the canonic circle domain of log size `log`: each 4 consecutive
    /// bit-reversed pairs are `(x, y), (-x, -y), (y, -x), (-y, x)` (see STWO's
    /// `compute_first_twiddles`), so their `1/y` derive from two line twiddles.
    #[cfg(test)]
    pub(crate) fn circle(&self, log: u32, q: usize) -> M31 {
        let u = q >> 2;
        let a = self.line(log - 1, 2 * u);
        let b = self.line(log - 1, 2 * u + 1);
        match q & 3 {
            0 => b,
            1 => -b,
            2 => -a,
            _ => a,
        }
    }

    fn packed_line(&self, log: u32, q0: usize) -> PackedM31 {
        let start = self.buf.len() - (1 << log) + q0;
        let sl = &self.buf[start..start + N_LANES];
        PackedM31::from_array(array::from_fn(|l| M31::from_u32_unchecked(sl[l] >> 1)))
    }

    /// `q0` is a multiple of 16, so the 16 pairs derive from 8 consecutive line twiddles.
    fn packed_circle(&self, log: u32, q0: usize) -> PackedM31 {
        let start = self.buf.len() - (1 << (log - 1)) + q0 / 2;
        let sl = &self.buf[start..start + N_LANES / 2];
        PackedM31::from_array(array::from_fn(|l| {
            let a = M31::from_u32_unchecked(sl[2 * (l >> 2)] >> 1);
            let b = M31::from_u32_unchecked(sl[2 * (l >> 2) + 1] >> 1);
            match l & 3 {
                0 => b,
                1 => -b,
                2 => -a,
                _ => a,
            }
        }))
    }
}

/// Folds `alphas.len()` rounds starting at a layer of log size `log`: the combined line layer
/// `layer` (if any) and the circle codewords `joins` (each with its weight) that join in the
/// first of these rounds.
pub(crate) fn fold_codeword(
    log: u32,
    layer: Option<&[QM31]>,
    joins: &[(&[M31], QM31)],
    alphas: &[QM31],
    tw: &Twiddles<'_>,
) -> Vec<QM31> {
    let s = alphas.len() as u32;
    let out_len = 1usize << (log - s);
    let one = QM31::from(M31::from(1u32));
    if out_len < N_LANES || log < 6 {
        // Small layers: scalar reference arithmetic.
        let mut v = match layer {
            Some(l) => fold_block(l, 0, log, false, alphas[0]),
            None => vec![QM31::zero(); 1 << (log - 1)],
        };
        for (cw, w) in joins {
            let vals: Vec<QM31> = cw.iter().map(|&x| x.into()).collect();
            let f = fold_block(&vals, 0, log, true, alphas[0]);
            v.iter_mut().zip(f).for_each(|(a, b)| *a += *w * b);
        }
        for (lvl, &a) in alphas.iter().enumerate().skip(1) {
            v = fold_block(&v, 0, log - lvl as u32, false, a);
        }
        return v;
    }
    let alpha_b: Vec<PackedQM31> = alphas.iter().map(|&a| PackedQM31::broadcast(a)).collect();
    let joins_b: Vec<(&[M31], PackedQM31, PackedQM31, bool)> = joins
        .iter()
        .map(|&(cw, w)| {
            (
                cw,
                PackedQM31::broadcast(w),
                PackedQM31::broadcast(w * alphas[0]),
                w == one,
            )
        })
        .collect();
    let mut out = vec![QM31::zero(); out_len];
    out.par_chunks_mut(N_LANES)
        .with_min_len(64)
        .enumerate()
        .for_each(|(o, dst)| {
            let n_in = 1usize << s;
            let base = o << s; // first input vector
            let mut store = [PackedQM31::zero(); 16];
            let mut n_vec = n_in / 2;
            for (j, v) in store[..n_vec].iter_mut().enumerate() {
                let e0 = (base + 2 * j) * N_LANES;
                let q0 = e0 / 2;
                let mut acc = PackedQM31::zero();
                if let Some(l) = layer {
                    let (a, b) = load_qm31(&l[e0..]).deinterleave(load_qm31(&l[e0 + N_LANES..]));
                    let t = tw.packed_line(log, q0);
                    acc = (a + b) + alpha_b[0] * ((a - b) * t);
                }
                if !joins_b.is_empty() {
                    let t = tw.packed_circle(log, q0);
                    for (cw, w, wa, unit) in &joins_b {
                        let (a, b) =
                            load_m31(&cw[e0..]).deinterleave(load_m31(&cw[e0 + N_LANES..]));
                        let f0 = a + b;
                        let f1 = (a - b) * t;
                        if *unit {
                            acc += alpha_b[0] * f1 + f0;
                        } else {
                            acc += *w * f0 + *wa * f1;
                        }
                    }
                }
                *v = acc;
            }
            for lvl in 1..s {
                let l_log = log - lvl;
                let vbase = o << (s - lvl);
                for j in 0..n_vec / 2 {
                    let (a, b) = store[2 * j].deinterleave(store[2 * j + 1]);
                    let q0 = (vbase + 2 * j) * N_LANES / 2;
                    let t = tw.packed_line(l_log, q0);
                    store[j] = (a + b) + alpha_b[lvl as usize] * ((a - b) * t);
                }
                n_vec /= 2;
            }
            dst.copy_from_slice(&store[0].to_array());
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::twiddles_for;
    use crate::fold::{circle_twiddle, line_twiddle};

    #[test]
    fn tree_twiddles_match_domain() {
        for (root, ms) in [(10u32, vec![6u32, 8, 10]), (22, vec![6, 12, 16, 21, 22])] {
            let tree = twiddles_for(root);
            let tw = Twiddles::new(&tree);
            for m in ms {
                for q in [0usize, 1, 2, 3, 5, 17, 30] {
                    if q < 1 << (m - 1) {
                        assert_eq!(tw.circle(m, q), circle_twiddle(m, q), "circle m={m} q={q}");
                    }
                    if m < root && q < 1 << (m - 1) {
                        assert_eq!(tw.line(m, q), line_twiddle(m, q), "line m={m} q={q}");
                    }
                }
            }
        }
    }
}
