//! Property tests of the layer reductions against naive reference code: for random small
//! shapes and values, the output table is computed naively, a claim on it at a random point is
//! reduced, and the resulting claims must be true evaluations of the operands' multilinear
//! extensions (computed naively here, by the definition), the verifier must reach the same
//! claims, and a wrong claim value must be rejected or yield a false claim.
#![allow(clippy::unwrap_used)]

use gkr::claim::{prove_combine, verify_combine};
use gkr::elementwise::{
    prove_add, prove_add_bias, prove_mul, verify_add, verify_add_bias, verify_mul,
};
use gkr::linear::{
    add_const_claim, prove_broadcast_column, prove_broadcast_row, prove_concat,
    prove_concat_aligned, prove_mul_const, prove_rotate_half, prove_row_sum, row_slice_claim,
    slice_claim, verify_broadcast_column, verify_broadcast_row, verify_concat,
    verify_concat_aligned, verify_mul_const, verify_rotate_half, verify_row_sum,
};
use gkr::matmul::{self, MatMulDims};
use gkr::{Channel, Claim};
use num_traits::{One, Zero};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stwo::core::fields::m31::{M31, P};
use stwo::core::fields::qm31::QM31;

/// The multilinear extension of `table` at `point`, by its definition
/// `sum_i table[i] prod_j (i_j ? r_j : 1 - r_j)`, variable 0 the most significant index bit.
fn mle(table: &[M31], point: &[QM31]) -> QM31 {
    let n = point.len();
    assert_eq!(table.len(), 1 << n, "table of 2^{n} entries");
    let mut total = QM31::zero();
    for (i, &t) in table.iter().enumerate() {
        let mut w = QM31::one();
        for (j, &r) in point.iter().enumerate() {
            w *= if (i >> (n - 1 - j)) & 1 == 1 {
                r
            } else {
                QM31::one() - r
            };
        }
        total += w * QM31::from(t);
    }
    total
}

fn true_claim(table: &[M31], c: &Claim) -> bool {
    mle(table, &c.point) == c.value
}

fn table(rng: &mut StdRng, len: usize) -> Vec<M31> {
    (0..len).map(|_| M31::from(rng.gen_range(0..P))).collect()
}

fn felt(rng: &mut StdRng) -> QM31 {
    QM31::from_m31_array(std::array::from_fn(|_| M31::from(rng.gen_range(0..P))))
}

fn point(rng: &mut StdRng, n: usize) -> Vec<QM31> {
    (0..n).map(|_| felt(rng)).collect()
}

/// A claim on `y` at a random point, and the same claim with a wrong value.
fn claims(rng: &mut StdRng, y: &[M31], n: usize) -> (Claim, Claim) {
    let r = point(rng, n);
    let good = Claim::new(r.clone(), mle(y, &r));
    let mut delta = felt(rng);
    if delta.is_zero() {
        delta = QM31::one();
    }
    (good.clone(), Claim::new(r, good.value + delta))
}

fn ch() -> Channel {
    Channel::default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matmul_reduces_to_true_claims(
        lm in 0u32..3, lk in 0u32..4, ln in 0u32..3, lb in 0u32..3,
        transpose_rhs in any::<bool>(), seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let dims = MatMulDims { log_m: lm, log_k: lk, log_n: ln, transpose_rhs, log_blocks: lb };
        let (nb, m, k, n) = (1usize << lb, 1usize << lm, 1usize << lk, 1usize << ln);
        let a = table(&mut rng, nb * m * k);
        let w = table(&mut rng, nb * k * n);
        let mut c = vec![M31::zero(); nb * m * n];
        for b in 0..nb {
            for i in 0..m {
                for j in 0..n {
                    c[(b * m + i) * n + j] = (0..k)
                        .map(|t| {
                            let rhs = if transpose_rhs { w[(b * n + j) * k + t] } else { w[(b * k + t) * n + j] };
                            a[(b * m + i) * k + t] * rhs
                        })
                        .sum();
                }
            }
        }
        let (good, bad) = claims(&mut rng, &c, (lb + lm + ln) as usize);
        let (proof, ca, cw) = matmul::prove(&a, &w, dims, &good, &mut ch());
        prop_assert!(true_claim(&a, &ca) && true_claim(&w, &cw));
        prop_assert_eq!(matmul::verify(&proof, dims, &good, &mut ch()).unwrap(), (ca, cw));
        prop_assert!(matmul::verify(&proof, dims, &bad, &mut ch()).is_err());
    }

    #[test]
    fn add_splits_into_true_claims(n in 0usize..6, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (l, r) = (table(&mut rng, 1 << n), table(&mut rng, 1 << n));
        let y: Vec<M31> = l.iter().zip(&r).map(|(a, b)| *a + *b).collect();
        let (good, bad) = claims(&mut rng, &y, n);
        let (proof, cl, cr) = prove_add(&l, &good, &mut ch());
        prop_assert!(true_claim(&l, &cl) && true_claim(&r, &cr));
        prop_assert_eq!(verify_add(&proof, &good, &mut ch()), (cl, cr));
        // Nothing to check here: the wrong value moves to the right operand's claim.
        let (bl, br) = verify_add(&proof, &bad, &mut ch());
        prop_assert!(!(true_claim(&l, &bl) && true_claim(&r, &br)));
    }

    #[test]
    fn add_bias_splits_into_true_claims(
        log_rows in 0usize..4, log_cols in 0usize..4, real in 0usize..16, seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let n_rows = real % ((1 << log_rows) + 1);
        let cols = 1 << log_cols;
        let x = table(&mut rng, (1 << log_rows) * cols);
        let bias = table(&mut rng, cols);
        let y: Vec<M31> = (0..x.len())
            .map(|i| if i / cols < n_rows { x[i] + bias[i % cols] } else { x[i] })
            .collect();
        let (good, bad) = claims(&mut rng, &y, log_rows + log_cols);
        let (proof, cx, cb) = prove_add_bias(&bias, n_rows, log_rows, &good, &mut ch());
        prop_assert!(true_claim(&x, &cx) && true_claim(&bias, &cb));
        prop_assert_eq!(verify_add_bias(&proof, n_rows, log_rows, &good, &mut ch()).unwrap(), (cx, cb));
        let (bx, bb) = verify_add_bias(&proof, n_rows, log_rows, &bad, &mut ch()).unwrap();
        prop_assert!(!(true_claim(&x, &bx) && true_claim(&bias, &bb)));
    }

    #[test]
    fn mul_reduces_to_true_claims(n in 0usize..7, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (l, r) = (table(&mut rng, 1 << n), table(&mut rng, 1 << n));
        let y: Vec<M31> = l.iter().zip(&r).map(|(a, b)| *a * *b).collect();
        let (good, bad) = claims(&mut rng, &y, n);
        let (proof, cl, cr) = prove_mul(&l, &r, &good, &mut ch());
        prop_assert!(true_claim(&l, &cl) && true_claim(&r, &cr));
        prop_assert_eq!(verify_mul(&proof, &good, &mut ch()).unwrap(), (cl, cr));
        prop_assert!(verify_mul(&proof, &bad, &mut ch()).is_err());
    }

    #[test]
    fn row_sum_reduces_to_a_true_claim(log_rows in 0usize..4, log_cols in 0usize..4, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let cols = 1 << log_cols;
        let x = table(&mut rng, (1 << log_rows) * cols);
        // y: 2^log_rows x 2, the sum in column 0.
        let mut y = vec![M31::zero(); 2 << log_rows];
        for i in 0..1 << log_rows {
            y[2 * i] = x[i * cols..(i + 1) * cols].iter().copied().sum();
        }
        let (good, bad) = claims(&mut rng, &y, log_rows + 1);
        let (proof, cx) = prove_row_sum(&x, log_rows, log_cols, &good, &mut ch());
        prop_assert!(true_claim(&x, &cx));
        prop_assert_eq!(verify_row_sum(&proof, log_rows, log_cols, &good, &mut ch()).unwrap(), cx);
        prop_assert!(verify_row_sum(&proof, log_rows, log_cols, &bad, &mut ch()).is_err());
    }

    #[test]
    fn mul_const_reduces_to_a_true_claim(n in 0usize..6, c in 0u32..P, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let c = M31::from(c);
        let x = table(&mut rng, 1 << n);
        let y: Vec<M31> = x.iter().map(|&v| v * c).collect();
        let (good, bad) = claims(&mut rng, &y, n);
        let (proof, cx) = prove_mul_const(&x, &good, &mut ch());
        prop_assert!(true_claim(&x, &cx));
        prop_assert_eq!(verify_mul_const(&proof, c, &good, &mut ch()).unwrap(), cx);
        // With c = 0 every value of x is consistent with a zero claim and no other.
        prop_assert!(verify_mul_const(&proof, c, &bad, &mut ch()).is_err());
    }

    #[test]
    fn add_const_gives_a_true_claim(
        log_rows in 0usize..4, log_cols in 0usize..4, rows in 0usize..16, cols in 0usize..16,
        c in 0u32..P, seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (rows, cols) = (rows % ((1 << log_rows) + 1), cols % ((1 << log_cols) + 1));
        let c = M31::from(c);
        let x = table(&mut rng, 1 << (log_rows + log_cols));
        let y: Vec<M31> = (0..x.len())
            .map(|i| {
                let real = i >> log_cols < rows && i % (1 << log_cols) < cols;
                if real { x[i] + c } else { x[i] }
            })
            .collect();
        let (good, bad) = claims(&mut rng, &y, log_rows + log_cols);
        prop_assert!(true_claim(&x, &add_const_claim(c, rows, cols, log_rows, &good).unwrap()));
        prop_assert!(!true_claim(&x, &add_const_claim(c, rows, cols, log_rows, &bad).unwrap()));
    }

    #[test]
    fn slices_give_true_claims(
        log_rows in 0usize..4, log_cols in 0usize..4, cut in 0usize..4, block in 0usize..16,
        seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = table(&mut rng, 1 << (log_rows + log_cols));
        // Column slice: block `b` of width 2^log_len.
        let log_len = log_cols - cut.min(log_cols);
        let b = block % (1 << (log_cols - log_len));
        let y: Vec<M31> = (0..1 << (log_rows + log_len))
            .map(|i| x[((i >> log_len) << log_cols) + (b << log_len) + i % (1 << log_len)])
            .collect();
        let (good, bad) = claims(&mut rng, &y, log_rows + log_len);
        prop_assert!(true_claim(&x, &slice_claim(&good, log_rows, log_cols, log_len, b).unwrap()));
        prop_assert!(!true_claim(&x, &slice_claim(&bad, log_rows, log_cols, log_len, b).unwrap()));
        // Row slice: block `b` of height 2^log_len.
        let log_len = log_rows - cut.min(log_rows);
        let b = block % (1 << (log_rows - log_len));
        let start = b << (log_len + log_cols);
        let y = &x[start..start + (1 << (log_len + log_cols))];
        let (good, bad) = claims(&mut rng, y, log_len + log_cols);
        prop_assert!(true_claim(&x, &row_slice_claim(&good, log_rows, log_cols, log_len, b).unwrap()));
        prop_assert!(!true_claim(&x, &row_slice_claim(&bad, log_rows, log_cols, log_len, b).unwrap()));
    }

    #[test]
    fn concat_splits_into_true_claims(
        log_rows in 0usize..3, log_w in 0usize..3, n_parts in 1usize..6, seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let n_b = n_parts.next_power_of_two().ilog2() as usize;
        let w = 1 << log_w;
        let parts: Vec<Vec<M31>> = (0..n_parts).map(|_| table(&mut rng, w << log_rows)).collect();
        // y(i, b, j) = part_b(i, j), zero for the padding parts.
        let mut y = vec![M31::zero(); (w << n_b) << log_rows];
        for i in 0..1 << log_rows {
            for (b, part) in parts.iter().enumerate() {
                let dst = ((i << n_b) + b) * w;
                y[dst..dst + w].copy_from_slice(&part[i * w..(i + 1) * w]);
            }
        }
        let refs: Vec<&[M31]> = parts.iter().map(Vec::as_slice).collect();
        let (good, bad) = claims(&mut rng, &y, log_rows + n_b + log_w);
        let (proof, cs) = prove_concat(&refs, log_rows, log_w, &good, &mut ch());
        for (part, c) in parts.iter().zip(&cs) {
            prop_assert!(true_claim(part, c));
        }
        prop_assert_eq!(verify_concat(&proof, n_parts, log_rows, log_w, &good, &mut ch()).unwrap(), cs);
        prop_assert!(verify_concat(&proof, n_parts, log_rows, log_w, &bad, &mut ch()).is_err());
    }

    #[test]
    fn aligned_concat_splits_into_true_claims(
        log_rows in 0usize..3, widths in proptest::collection::vec(0usize..3, 1..4), seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut log_widths = widths;
        log_widths.sort_unstable_by(|a, b| b.cmp(a));
        let total: usize = log_widths.iter().map(|&lw| 1 << lw).sum();
        let log_cols = total.next_power_of_two().ilog2() as usize;
        let cols = 1 << log_cols;
        let parts: Vec<Vec<M31>> = log_widths
            .iter()
            .map(|&lw| table(&mut rng, (1 << lw) << log_rows))
            .collect();
        let mut y = vec![M31::zero(); cols << log_rows];
        let mut offset = 0;
        for (part, &lw) in parts.iter().zip(&log_widths) {
            let w = 1 << lw;
            for i in 0..1 << log_rows {
                y[i * cols + offset..i * cols + offset + w].copy_from_slice(&part[i * w..(i + 1) * w]);
            }
            offset += w;
        }
        let refs: Vec<&[M31]> = parts.iter().map(Vec::as_slice).collect();
        let (good, bad) = claims(&mut rng, &y, log_rows + log_cols);
        let (proof, cs) = prove_concat_aligned(&refs, log_rows, &log_widths, &good, &mut ch());
        for (part, c) in parts.iter().zip(&cs) {
            prop_assert!(true_claim(part, c));
        }
        let verified = verify_concat_aligned(&proof, log_rows, log_cols, &log_widths, &good, &mut ch());
        prop_assert_eq!(verified.unwrap(), cs);
        prop_assert!(verify_concat_aligned(&proof, log_rows, log_cols, &log_widths, &bad, &mut ch()).is_err());
    }

    #[test]
    fn broadcast_column_reduces_to_a_true_claim(
        log_rows in 0usize..4, log_cols in 1usize..4, cols in 0usize..16, seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let cols = cols % ((1 << log_cols) + 1);
        // The column is stored 2^log_rows x 2 (its values in column 0).
        let s = table(&mut rng, 2 << log_rows);
        let y: Vec<M31> = (0..1 << (log_rows + log_cols))
            .map(|i| if i % (1 << log_cols) < cols { s[2 * (i >> log_cols)] } else { M31::zero() })
            .collect();
        let (good, bad) = claims(&mut rng, &y, log_rows + log_cols);
        let (proof, cs) = prove_broadcast_column(&s, log_rows, &good, &mut ch());
        prop_assert!(true_claim(&s, &cs));
        prop_assert_eq!(verify_broadcast_column(&proof, log_rows, cols, &good, &mut ch()).unwrap(), cs);
        prop_assert!(verify_broadcast_column(&proof, log_rows, cols, &bad, &mut ch()).is_err());
    }

    #[test]
    fn broadcast_row_reduces_to_a_true_claim(
        log_rows in 0usize..4, log_cols in 1usize..4, rows in 0usize..16, seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let rows = rows % ((1 << log_rows) + 1);
        let x = table(&mut rng, 1 << log_cols);
        let y: Vec<M31> = (0..1 << (log_rows + log_cols))
            .map(|i| if i >> log_cols < rows { x[i % (1 << log_cols)] } else { M31::zero() })
            .collect();
        let (good, bad) = claims(&mut rng, &y, log_rows + log_cols);
        let (proof, cs) = prove_broadcast_row(&x, log_rows, &good, &mut ch());
        prop_assert!(true_claim(&x, &cs));
        prop_assert_eq!(verify_broadcast_row(&proof, log_rows, rows, &good, &mut ch()).unwrap(), cs);
        prop_assert!(verify_broadcast_row(&proof, log_rows, rows, &bad, &mut ch()).is_err());
    }

    #[test]
    fn rotate_half_splits_into_true_claims(
        log_rows in 0usize..3, log_cols in 1usize..4, h in 1usize..4, seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        // Blocks of 2^h columns; the block's top bit is variable log_rows + log_cols - h.
        let h = h.min(log_cols);
        let half = 1 << (h - 1);
        let x = table(&mut rng, 1 << (log_rows + log_cols));
        let y: Vec<M31> = (0..x.len())
            .map(|i| if i % (2 * half) < half { -x[i + half] } else { x[i - half] })
            .collect();
        let t = log_rows + log_cols - h;
        let (good, bad) = claims(&mut rng, &y, log_rows + log_cols);
        let (proof, c0, c1) = prove_rotate_half(&x, t, &good, &mut ch());
        prop_assert!(true_claim(&x, &c0) && true_claim(&x, &c1));
        prop_assert_eq!(verify_rotate_half(&proof, t, &good, &mut ch()).unwrap(), (c0, c1));
        prop_assert!(verify_rotate_half(&proof, t, &bad, &mut ch()).is_err());
    }

    #[test]
    fn claim_batching_reduces_to_a_true_claim(n in 0usize..7, n_claims in 1usize..5, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = table(&mut rng, 1 << n);
        let mut cs: Vec<Claim> = (0..n_claims).map(|_| claims(&mut rng, &x, n).0).collect();
        let (proof, out) = prove_combine(&x, &cs, &mut ch());
        prop_assert!(true_claim(&x, &out));
        prop_assert_eq!(verify_combine(&proof, &cs, n, &mut ch()).unwrap(), out);
        let i = rng.gen_range(0..n_claims);
        cs[i].value += QM31::one();
        prop_assert!(verify_combine(&proof, &cs, n, &mut ch()).is_err());
    }
}
