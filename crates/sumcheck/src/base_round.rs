//! The first round of a product sumcheck whose factors after the first are base-field tables
//! (a `Mul` layer's operands, a table under claim batching): the base factors are multiplied
//! in M31 and meet the secure first factor once per point, and their fold makes the first
//! secure tables. The transcript is that of [`crate::oracle::prove_product`] on the same
//! values.

use num_traits::Zero;
use rayon::prelude::*;
use stwo::core::channel::Channel;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::prover::backend::simd::m31::{PackedM31, N_LANES};
use stwo::prover::backend::simd::qm31::PackedQM31;

use crate::oracle::{prove_rest, round_poly, ProductOracle};
use crate::proof::{RoundPoly, SumcheckProof};

/// Packed pairs per parallel task.
const TASK: usize = 1 << 8;

fn load(c: &[M31]) -> PackedM31 {
    PackedM31::from_array(std::array::from_fn(|l| c[l]))
}

/// Values at `t = 0, 2, 3` of `lo + t (hi - lo)`, and the difference.
fn line(lo: PackedM31, hi: PackedM31) -> [PackedM31; 4] {
    let d = hi - lo;
    let at2 = lo + d + d;
    [lo, at2, at2 + d, d]
}

/// Proves `claim = sum_x first(x) prod_j base_j(x)` for one or two base tables, `first` packed
/// (`2^n / 16` vectors, `n >= 5`) and each base table of `2^n` entries. Returns the proof, the
/// point and the tables' values there (`first`, then the base tables).
///
/// # Panics
/// Panics on tables of different sizes, fewer than 32 entries, or not one or two base tables.
pub fn prove_product_base(
    claim: QM31,
    first: Vec<PackedQM31>,
    base: &[&[M31]],
    channel: &mut impl Channel,
) -> (SumcheckProof, Vec<QM31>, Vec<QM31>) {
    let len = first.len();
    assert!(len >= 2 && len.is_power_of_two(), "at least 32 entries");
    assert!((1..=2).contains(&base.len()), "one or two base tables");
    assert!(
        base.iter().all(|b| b.len() == len * N_LANES),
        "tables differ in length"
    );
    let half = len / 2;
    let degree = base.len() + 1;
    let sums_of = |i: usize| -> [PackedQM31; 3] {
        let e_lo = first[i];
        let e_d = first[i + half] - e_lo;
        let e2 = e_lo + e_d + e_d;
        let e = [e_lo, e2, e2 + e_d];
        let at = |b: &[M31]| {
            let r = i * N_LANES;
            let h = (i + half) * N_LANES;
            line(load(&b[r..r + N_LANES]), load(&b[h..h + N_LANES]))
        };
        let p = at(base[0]);
        let p = match base.get(1) {
            Some(b) => {
                let q = at(b);
                [p[0] * q[0], p[1] * q[1], p[2] * q[2]]
            }
            None => [p[0], p[1], p[2]],
        };
        [e[0] * p[0], e[1] * p[1], e[2] * p[2]]
    };
    let add3 = |a: [PackedQM31; 3], b: [PackedQM31; 3]| [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
    let packed = if half < 2 * TASK {
        (0..half).map(sums_of).fold([PackedQM31::zero(); 3], add3)
    } else {
        (0..half)
            .into_par_iter()
            .with_min_len(TASK)
            .map(sums_of)
            .reduce(|| [PackedQM31::zero(); 3], add3)
    };
    let poly = round_poly(packed.map(PackedQM31::pointwise_sum), claim, degree);
    channel.mix_felts(&poly);
    let alpha = channel.draw_secure_felt();
    let claim = poly.eval_at_point(alpha);
    let a = PackedQM31::broadcast(alpha);
    let fold_first: Vec<PackedQM31> = (0..half)
        .map(|i| first[i] + (first[i + half] - first[i]) * a)
        .collect();
    let mut tables = vec![fold_first];
    for b in base {
        let (lo, hi) = b.split_at(half * N_LANES);
        let fold = |(l, h): (&[M31], &[M31])| {
            let (l, h) = (load(l), load(h));
            PackedQM31::from(l) + a * (h - l)
        };
        let folded = if half < 2 * TASK {
            lo.chunks_exact(N_LANES)
                .zip(hi.chunks_exact(N_LANES))
                .map(fold)
                .collect()
        } else {
            lo.par_chunks_exact(N_LANES)
                .zip(hi.par_chunks_exact(N_LANES))
                .with_min_len(TASK)
                .map(fold)
                .collect()
        };
        tables.push(folded);
    }
    let oracle = ProductOracle::from_packed(tables);
    prove_rest(
        claim,
        oracle,
        vec![RoundPoly::new(poly.to_vec())],
        vec![alpha],
        channel,
    )
}

#[cfg(test)]
mod tests {
    use stwo::core::channel::Blake2sChannel;

    use super::*;
    use crate::oracle::prove_product;
    use crate::simd::pack_secure;

    #[test]
    fn base_first_round_gives_the_same_proof() {
        for (n, k) in [(5usize, 1usize), (5, 2), (12, 2), (15, 1), (15, 2)] {
            let first: Vec<QM31> = (0..1u32 << n)
                .map(|i| QM31::from_u32_unchecked(i * 7 + 1, i ^ 3, 2 * i, 5))
                .collect();
            let base: Vec<Vec<M31>> = (0..k as u32)
                .map(|j| (0..1u32 << n).map(|i| M31::from(i * (j + 3) + j)).collect())
                .collect();
            let claim = QM31::from_u32_unchecked(1, 2, 3, 4);
            let mut tables = vec![first.clone()];
            for b in &base {
                tables.push(b.iter().map(|&v| v.into()).collect());
            }
            let want = prove_product(claim, tables, &mut Blake2sChannel::default());
            let refs: Vec<&[M31]> = base.iter().map(Vec::as_slice).collect();
            let got = prove_product_base(
                claim,
                pack_secure(&first),
                &refs,
                &mut Blake2sChannel::default(),
            );
            assert_eq!(got, want, "n = {n}, {k} base tables");
        }
    }
}
