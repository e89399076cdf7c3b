//! Matrix multiplication `C (m x n) = A (m x k) . W (k x n)` (or `A . B^T` with `B` stored
//! `n x k`, for products of two activations such as `Q K^T`) by one sumcheck over `k`.
//!
//! From a claim `C(r_m, r_n) = v`, the prover folds `A` along its rows with `eq(r_m, .)` and `W`
//! along its columns with `eq(r_n, .)`, leaving two vectors of length `k` whose inner product is
//! `v`; a degree-2 sumcheck over the `log k` variables ends at a random `rho` with claims
//! `A(r_m, rho)` and `W(rho, r_n)`. All dimensions are the padded (power-of-two) ones.
//!
//! Block-diagonal products (`2^log_blocks` independent matmuls stacked along rows, block `b`'s
//! right operand in rows `b k ..` of `W`): the claim's point starts with the block coordinates
//! `r_b`, and `C(r_b, r_m, r_n) = sum_{b, kk} eq(r_b, b) A_b(r_m, kk) W_b(kk, r_n)` is one
//! degree-3 sumcheck over `log_blocks + log k` variables — `log_blocks` rounds more than one
//! block alone, however many blocks.

use serde::{Deserialize, Serialize};
use stwo::core::channel::{Blake2sChannel, Channel};
#[cfg(feature = "prover")]
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
#[cfg(feature = "prover")]
use sumcheck::oracle::prove_product;
use sumcheck::SumcheckProof;

#[cfg(feature = "prover")]
use crate::claim::eq_table;
use crate::claim::Claim;
use crate::error::GkrError;

/// `log2` of the padded dimensions of a matmul, and the layout of the right operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatMulDims {
    pub log_m: u32,
    pub log_k: u32,
    pub log_n: u32,
    /// The right operand is stored `n x k` and used transposed (`C = A . B^T`, as in `Q K^T`).
    pub transpose_rhs: bool,
    /// `log2` of the number of stacked blocks (0: one ordinary matmul). `log_m` is then the
    /// rows of one block; `A`, `C` and the right operand hold `2^log_blocks` blocks each.
    pub log_blocks: u32,
}

impl MatMulDims {
    /// The claims on both operands for the sumcheck point `rho` (block coordinates first).
    fn operand_claims(
        &self,
        rho: &[QM31],
        r_m: &[QM31],
        r_n: &[QM31],
        a_eval: QM31,
        w_eval: QM31,
    ) -> (Claim, Claim) {
        let (rho_b, rho_k) = rho.split_at(self.log_blocks as usize);
        let a = Claim::new([rho_b, r_m, rho_k].concat(), a_eval);
        let w = if self.transpose_rhs {
            [rho_b, r_n, rho_k].concat()
        } else {
            [rho_b, rho_k, r_n].concat()
        };
        (a, Claim::new(w, w_eval))
    }
}

/// The prover's messages for one matmul.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatMulProof {
    pub sumcheck: SumcheckProof,
    #[serde(with = "sumcheck::felt::qm31")]
    pub a_eval: QM31,
    #[serde(with = "sumcheck::felt::qm31")]
    pub w_eval: QM31,
}

/// `out[kk] = sum_i eq_m[i] * a[i * k + kk]`.
#[cfg(feature = "prover")]
fn fold_rows(a: &[M31], eq_m: &[QM31], k: usize) -> Vec<QM31> {
    sumcheck::simd::cols_dot(a, k, eq_m)
}

/// `out[kk] = sum_j w[kk * n + j] * eq_n[j]`.
#[cfg(feature = "prover")]
fn fold_cols(w: &[M31], eq_n: &[QM31], n: usize) -> Vec<QM31> {
    sumcheck::simd::rows_dot(w, n, eq_n)
}

/// Proves a claim on `C = A . W`. `a` and `w` are the padded row-major tables.
///
/// # Panics
/// Panics if the tables or the claim do not match `dims` (a caller bug).
#[cfg(feature = "prover")]
pub fn prove(
    a: &[M31],
    w: &[M31],
    dims: MatMulDims,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (MatMulProof, Claim, Claim) {
    let (m, k, n) = (
        1usize << dims.log_m,
        1usize << dims.log_k,
        1usize << dims.log_n,
    );
    let blocks = 1usize << dims.log_blocks;
    assert_eq!(a.len(), blocks * m * k, "A table size");
    assert_eq!(w.len(), blocks * k * n, "right operand table size");
    assert_eq!(
        claim.point.len() as u32,
        dims.log_blocks + dims.log_m + dims.log_n,
        "claim dimension"
    );
    let (r_b, rest) = claim.point.split_at(dims.log_blocks as usize);
    let (r_m, r_n) = rest.split_at(dims.log_m as usize);
    let (eq_m, eq_n) = (eq_table(r_m), eq_table(r_n));
    let fold_block = |b: usize| {
        let a_b = &a[b * m * k..(b + 1) * m * k];
        let w_b = &w[b * k * n..(b + 1) * k * n];
        rayon::join(
            || fold_rows(a_b, &eq_m, k),
            || {
                if dims.transpose_rhs {
                    fold_rows(w_b, &eq_n, k)
                } else {
                    fold_cols(w_b, &eq_n, n)
                }
            },
        )
    };
    let (sumcheck, rho, a_eval, w_eval) = if dims.log_blocks == 0 {
        let (a_vec, w_vec) = fold_block(0);
        let (sumcheck, rho, finals) = prove_product(claim.value, vec![a_vec, w_vec], channel);
        (sumcheck, rho, finals[0], finals[1])
    } else {
        let folded: Vec<(Vec<QM31>, Vec<QM31>)> = (0..blocks).map(fold_block).collect();
        let eq_b = eq_table(r_b);
        let e_vec: Vec<QM31> = (0..blocks * k).map(|i| eq_b[i / k]).collect();
        let a_vec: Vec<QM31> = folded.iter().flat_map(|f| f.0.iter().copied()).collect();
        let w_vec: Vec<QM31> = folded.iter().flat_map(|f| f.1.iter().copied()).collect();
        let (sumcheck, rho, finals) =
            prove_product(claim.value, vec![e_vec, a_vec, w_vec], channel);
        (sumcheck, rho, finals[1], finals[2])
    };
    finish(dims, claim, sumcheck, rho, a_eval, w_eval, channel)
}

/// [`prove`] for one ordinary product (`log_blocks = 0`) whose right operand is given folded:
/// `w_folded[kk] = W(kk, r_n)` (or `W(r_n, kk)` when `dims.transpose_rhs`, `W` stored
/// `n x k`) for the claim's column point `r_n`, so `W` itself need not exist as one padded
/// table.
///
/// # Panics
/// Panics if the table, the folded operand or the claim do not match `dims` (a caller bug).
#[cfg(feature = "prover")]
pub fn prove_folded(
    a: &[M31],
    w_folded: Vec<QM31>,
    dims: MatMulDims,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (MatMulProof, Claim, Claim) {
    assert!(dims.log_blocks == 0, "prove_folded: one block only");
    let (m, k) = (1usize << dims.log_m, 1usize << dims.log_k);
    assert_eq!(a.len(), m * k, "A table size");
    assert_eq!(w_folded.len(), k, "folded right operand size");
    assert_eq!(
        claim.point.len() as u32,
        dims.log_m + dims.log_n,
        "claim dimension"
    );
    let a_vec = fold_rows(a, &eq_table(&claim.point[..dims.log_m as usize]), k);
    let (sumcheck, rho, finals) = prove_product(claim.value, vec![a_vec, w_folded], channel);
    finish(dims, claim, sumcheck, rho, finals[0], finals[1], channel)
}

/// The end of a matmul proof: both final values into the transcript, the operand claims.
#[cfg(feature = "prover")]
fn finish(
    dims: MatMulDims,
    claim: &Claim,
    sumcheck: SumcheckProof,
    rho: Vec<QM31>,
    a_eval: QM31,
    w_eval: QM31,
    channel: &mut Blake2sChannel,
) -> (MatMulProof, Claim, Claim) {
    let rest = &claim.point[dims.log_blocks as usize..];
    let (r_m, r_n) = rest.split_at(dims.log_m as usize);
    channel.mix_felts(&[a_eval, w_eval]);
    let (a_claim, w_claim) = dims.operand_claims(&rho, r_m, r_n, a_eval, w_eval);
    (
        MatMulProof {
            sumcheck,
            a_eval,
            w_eval,
        },
        a_claim,
        w_claim,
    )
}

/// Verifies a matmul reduction; returns the claims on `A` and on `W`.
pub fn verify(
    proof: &MatMulProof,
    dims: MatMulDims,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<(Claim, Claim), GkrError> {
    let lb = dims.log_blocks as usize;
    let expected = lb + (dims.log_m + dims.log_n) as usize;
    if claim.point.len() != expected {
        return Err(GkrError::PointDimension {
            expected,
            got: claim.point.len(),
        });
    }
    let (r_b, rest) = claim.point.split_at(lb);
    let (r_m, r_n) = rest.split_at(dims.log_m as usize);
    let degree = if lb == 0 { 2 } else { 3 };
    let (rho, final_claim) = sumcheck::verify(
        claim.value,
        &proof.sumcheck,
        lb + dims.log_k as usize,
        degree,
        channel,
    )
    .map_err(|source| GkrError::Sumcheck {
        layer: "matmul",
        source,
    })?;
    let eq_b = sumcheck::eq_eval(r_b, &rho[..lb]);
    if eq_b * proof.a_eval * proof.w_eval != final_claim {
        return Err(GkrError::FinalEvalMismatch { layer: "matmul" });
    }
    channel.mix_felts(&[proof.a_eval, proof.w_eval]);
    Ok(dims.operand_claims(&rho, r_m, r_n, proof.a_eval, proof.w_eval))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use sumcheck::eval_mle_base;

    fn rand_table(rng: &mut impl Rng, len: usize) -> Vec<M31> {
        (0..len)
            .map(|_| M31::from(rng.gen_range(0..1u32 << 20)))
            .collect()
    }

    fn naive_matmul(a: &[M31], w: &[M31], m: usize, k: usize, n: usize) -> Vec<M31> {
        let mut c = vec![M31::from(0); m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|t| a[i * k + t] * w[t * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matmul_reduction_works() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for (lm, lk, ln) in [(0, 0, 1), (0, 3, 2), (2, 4, 3), (3, 1, 0)] {
            let dims = MatMulDims {
                log_m: lm,
                log_k: lk,
                log_n: ln,
                transpose_rhs: false,
                log_blocks: 0,
            };
            let (m, k, n) = (1 << lm, 1 << lk, 1 << ln);
            let a = rand_table(&mut rng, m * k);
            let w = rand_table(&mut rng, k * n);
            let c = naive_matmul(&a, &w, m, k, n);
            let r: Vec<QM31> = (0..lm + ln)
                .map(|_| {
                    QM31::from_u32_unchecked(
                        rng.gen_range(0..1 << 30),
                        3,
                        rng.gen_range(0..1 << 30),
                        4,
                    )
                })
                .collect();
            let claim = Claim::new(r.clone(), eval_mle_base(&c, &r));
            let mut pc = Blake2sChannel::default();
            let (proof, ca, cw) = prove(&a, &w, dims, &claim, &mut pc);
            assert_eq!(eval_mle_base(&a, &ca.point), ca.value);
            assert_eq!(eval_mle_base(&w, &cw.point), cw.value);
            let mut vc = Blake2sChannel::default();
            let (va, vw) = verify(&proof, dims, &claim, &mut vc).unwrap();
            assert_eq!((va, vw), (ca, cw));

            // A wrong output value is rejected.
            let mut bad = claim.clone();
            bad.value += QM31::from(M31::from(1));
            let mut vc = Blake2sChannel::default();
            assert!(verify(&proof, dims, &bad, &mut vc).is_err());
        }
    }

    #[test]
    fn transposed_rhs_works() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(12);
        let dims = MatMulDims {
            log_m: 2,
            log_k: 3,
            log_n: 1,
            transpose_rhs: true,
            log_blocks: 0,
        };
        let a = rand_table(&mut rng, 4 * 8);
        let b = rand_table(&mut rng, 2 * 8); // n x k
        let bt: Vec<M31> = (0..8 * 2).map(|i| b[(i % 2) * 8 + i / 2]).collect(); // k x n
        let c = naive_matmul(&a, &bt, 4, 8, 2);
        let r: Vec<QM31> = (0..3)
            .map(|i| QM31::from_u32_unchecked(i + 3, 9, 1, 7))
            .collect();
        let claim = Claim::new(r.clone(), eval_mle_base(&c, &r));
        let mut pc = Blake2sChannel::default();
        let (proof, ca, cb) = prove(&a, &b, dims, &claim, &mut pc);
        assert_eq!(eval_mle_base(&a, &ca.point), ca.value);
        assert_eq!(eval_mle_base(&b, &cb.point), cb.value);
        let mut vc = Blake2sChannel::default();
        assert_eq!(verify(&proof, dims, &claim, &mut vc).unwrap(), (ca, cb));
    }

    #[test]
    fn forged_final_evals_fail() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let dims = MatMulDims {
            log_m: 1,
            log_k: 3,
            log_n: 2,
            transpose_rhs: false,
            log_blocks: 0,
        };
        let a = rand_table(&mut rng, 16);
        let w = rand_table(&mut rng, 32);
        let c = naive_matmul(&a, &w, 2, 8, 4);
        let r: Vec<QM31> = (0..3)
            .map(|i| QM31::from_u32_unchecked(i + 5, 1, 2, 3))
            .collect();
        let claim = Claim::new(r.clone(), eval_mle_base(&c, &r));
        let mut pc = Blake2sChannel::default();
        let (mut proof, _, _) = prove(&a, &w, dims, &claim, &mut pc);
        proof.a_eval += QM31::from(M31::from(1));
        let mut vc = Blake2sChannel::default();
        assert!(matches!(
            verify(&proof, dims, &claim, &mut vc),
            Err(GkrError::FinalEvalMismatch { .. })
        ));
    }

    #[test]
    fn block_diagonal_products_reduce_with_log_blocks_more_rounds() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(13);
        for transpose_rhs in [false, true] {
            let (lb, lm, lk, ln) = (2u32, 1u32, 3u32, 2u32);
            let dims = MatMulDims {
                log_m: lm,
                log_k: lk,
                log_n: ln,
                transpose_rhs,
                log_blocks: lb,
            };
            let (nb, m, k, n) = (1 << lb, 1 << lm, 1 << lk, 1 << ln);
            let a = rand_table(&mut rng, nb * m * k);
            let w = rand_table(&mut rng, nb * k * n);
            let mut c = Vec::new();
            for b in 0..nb {
                let w_b = &w[b * k * n..(b + 1) * k * n];
                let w_kn: Vec<M31> = if transpose_rhs {
                    (0..k * n).map(|i| w_b[(i % n) * k + i / n]).collect()
                } else {
                    w_b.to_vec()
                };
                c.extend(naive_matmul(&a[b * m * k..(b + 1) * m * k], &w_kn, m, k, n));
            }
            let r: Vec<QM31> = (0..lb + lm + ln)
                .map(|i| QM31::from_u32_unchecked(i + 2, rng.gen_range(0..1 << 30), 5, i))
                .collect();
            let claim = Claim::new(r.clone(), eval_mle_base(&c, &r));
            let mut pc = Blake2sChannel::default();
            let (proof, ca, cw) = prove(&a, &w, dims, &claim, &mut pc);
            assert_eq!(proof.sumcheck.round_polys.len(), (lb + lk) as usize);
            assert_eq!(eval_mle_base(&a, &ca.point), ca.value);
            assert_eq!(eval_mle_base(&w, &cw.point), cw.value);
            let mut vc = Blake2sChannel::default();
            assert_eq!(verify(&proof, dims, &claim, &mut vc).unwrap(), (ca, cw));

            // Block 1's right operand swapped with block 2's: the claim no longer holds.
            let mut swapped = w.clone();
            let blk = k * n;
            let (lo, hi) = swapped.split_at_mut(2 * blk);
            lo[blk..].swap_with_slice(&mut hi[..blk]);
            let mut pc = Blake2sChannel::default();
            let (bad, _, _) = prove(&a, &swapped, dims, &claim, &mut pc);
            let mut vc = Blake2sChannel::default();
            assert!(verify(&bad, dims, &claim, &mut vc).is_err());
        }
    }
}
