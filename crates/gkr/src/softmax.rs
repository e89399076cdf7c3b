//! Row-wise softmax in three proved steps, and the zero-checks they rest on.
//!
//! A softmax over the allowed entries `A` of an `m x n` tensor `x` (the real entries, and with a
//! causal mask only `j <= i`; see [`RealMask`]) is split into three nodes, each with committed
//! output:
//!
//! 1. **Row max** `mx` (`m x 1`) with a committed one-hot `h`. Lookups (in the caller's LogUp):
//!    `h` in `{0, 1}` everywhere, the gap `D = mx_b - x` in `[0, 2^16)` on `A` (`mx_b` the column
//!    broadcast). Here: `h = 0` off `A` (zero-check), `sum_j h_ij = [i real]` (a row-sum claim),
//!    and `sum_j h_ij D_ij = 0` for every row (zero-check against `eq(u, i)`). So each real row
//!    has exactly one selected allowed entry, where `D = 0`: `mx_i` is an entry of the row and
//!    at least every allowed entry, i.e. the maximum.
//! 2. **Exp** `e`: the pair `(x - mx_b, e)` is in the committed exp table on `A` (lookup), and
//!    `e = 0` off `A` (zero-check).
//! 3. **Division** `p = floor(e 2^q / s)` with `s = sum_j e_ij`: the remainder
//!    `r = e 2^q - p s_b` and `s_b - 1 - r` are in `[0, 2^16)` on `A`, `p` in the activation
//!    range everywhere (lookups), and `p = 0` off `A` (zero-check). With `s <= 2^14` (the exp
//!    table is bounded by the model) no term wraps mod p, so `p` is the integer quotient.
//!
//! Zero-check: the verifier draws `t` and the claim `sum_b eq(t, b) (1 - mask(b)) T(b) = 0` is
//! proved by a degree-3 sumcheck; `T` vanishes off the mask except with probability
//! `(n + 3 n) / |QM31|`. The verifier evaluates `mask` itself.

use num_traits::{One, Zero};
use serde::{Deserialize, Serialize};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::core::fields::FieldExpOps;
#[cfg(feature = "prover")]
use sumcheck::oracle::prove_product;
use sumcheck::{eq_eval, SumcheckProof};
#[cfg(feature = "prover")]
use sumcheck::{eq_evals, eval_mle_base};

use crate::claim::Claim;
#[cfg(feature = "prover")]
use crate::elementwise::prove_mul;
use crate::elementwise::{row_mask_eval, verify_mul, MulProof};
use crate::error::GkrError;
use crate::lookup::RealMask;

/// Proof that a table vanishes off a mask.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZeroProof {
    pub sumcheck: SumcheckProof,
    /// The table at the sumcheck's point.
    #[serde(with = "sumcheck::felt::qm31")]
    pub value: QM31,
}

fn n_vars(mask: &RealMask) -> usize {
    (mask.log_rows + mask.log_cols) as usize
}

#[cfg(feature = "prover")]
fn to_secure(t: &[M31]) -> Vec<QM31> {
    t.iter().map(|&v| v.into()).collect()
}

/// Proves `t = 0` off `mask`; returns the claim on `t` at the sumcheck's point.
#[cfg(feature = "prover")]
pub fn prove_zero_off_mask(
    t: &[M31],
    mask: &RealMask,
    channel: &mut Blake2sChannel,
) -> (ZeroProof, Claim) {
    let point = channel.draw_secure_felts(n_vars(mask));
    let off: Vec<QM31> = mask
        .table()
        .iter()
        .map(|&b| QM31::one() - QM31::from(b))
        .collect();
    let (sumcheck, rho, finals) = prove_product(
        QM31::zero(),
        vec![eq_evals(&point), off, to_secure(t)],
        channel,
    );
    let value = finals[2];
    channel.mix_felts(&[value]);
    (ZeroProof { sumcheck, value }, Claim::new(rho, value))
}

/// Verifier side of [`prove_zero_off_mask`].
pub fn verify_zero_off_mask(
    proof: &ZeroProof,
    mask: &RealMask,
    channel: &mut Blake2sChannel,
) -> Result<Claim, GkrError> {
    let n = n_vars(mask);
    let point = channel.draw_secure_felts(n);
    let (rho, last) =
        sumcheck::verify(QM31::zero(), &proof.sumcheck, n, 3, channel).map_err(|source| {
            GkrError::Sumcheck {
                layer: "zero off mask",
                source,
            }
        })?;
    if eq_eval(&point, &rho) * (QM31::one() - mask.eval(&rho)) * proof.value != last {
        return Err(GkrError::FinalEvalMismatch {
            layer: "zero off mask",
        });
    }
    channel.mix_felts(&[proof.value]);
    Ok(Claim::new(rho, proof.value))
}

/// The point of a `m x 1` column (stored `2^log_rows x 2`) under the row part of `point`.
fn column_point(point: &[QM31], log_rows: usize) -> Vec<QM31> {
    let mut p = point[..log_rows].to_vec();
    p.push(QM31::zero());
    p
}

/// `2^-log_cols` and the point `(r, 1/2, ..., 1/2)` of a row sum.
fn row_sum_point(rows_point: &[QM31], log_cols: usize) -> (Vec<QM31>, M31) {
    let half = M31::from(2u32).inverse();
    let mut p = rows_point.to_vec();
    p.extend(std::iter::repeat_n(QM31::from(half), log_cols));
    (p, half.pow(log_cols as u128))
}

fn dimension(expected: usize, claim: &Claim) -> Result<(), GkrError> {
    if claim.point.len() == expected {
        Ok(())
    } else {
        Err(GkrError::PointDimension {
            expected,
            got: claim.point.len(),
        })
    }
}

/// Prover messages of the row-max node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowMaxProof {
    /// `x` at the gap column's point.
    #[serde(with = "sumcheck::felt::qm31")]
    pub x_eval: QM31,
    /// `h = 0` off the mask.
    pub off_mask: ZeroProof,
    /// `sum_b eq(u, b_rows) h(b) (mx_b - x)(b) = 0`.
    pub select: SumcheckProof,
    /// `h`, `mx` and `x` at the select sumcheck's point.
    #[serde(with = "sumcheck::felt::qm31_vec")]
    pub select_evals: Vec<QM31>,
}

/// Claims produced by a softmax step, by tensor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SoftmaxClaims {
    /// On the step's input `x` (row max, exp) or `e` (division).
    pub input: Vec<Claim>,
    /// On the row max `mx` (row max, exp).
    pub max: Vec<Claim>,
    /// On the one-hot `h` (row max) or the step's output.
    pub aux: Vec<Claim>,
}

/// Row max: `x`, `mx` (`2^log_rows x 2`), `h` padded tables; `gap` is the lookup's claim on
/// `D = mx_b - x`.
#[cfg(feature = "prover")]
pub fn prove_row_max(
    x: &[M31],
    mx: &[M31],
    h: &[M31],
    mask: &RealMask,
    gap: &Claim,
    channel: &mut Blake2sChannel,
) -> (RowMaxProof, SoftmaxClaims) {
    let (lr, lc) = (mask.log_rows as usize, mask.log_cols as usize);
    let x_eval = eval_mle_base(x, &gap.point);
    channel.mix_felts(&[x_eval]);
    let mut out = SoftmaxClaims::default();
    out.input.push(Claim::new(gap.point.clone(), x_eval));
    out.max
        .push(Claim::new(column_point(&gap.point, lr), gap.value + x_eval));

    let (off_mask, ch) = prove_zero_off_mask(h, mask, channel);
    out.aux.push(ch);

    let u = channel.draw_secure_felts(lr);
    let eq_u = eq_evals(&u);
    let eq_b: Vec<QM31> = (0..x.len()).map(|i| eq_u[i >> lc]).collect();
    let d: Vec<QM31> = (0..x.len())
        .map(|i| QM31::from(mx[(i >> lc) << 1] - x[i]))
        .collect();
    let (select, rho, _) = prove_product(QM31::zero(), vec![eq_b, to_secure(h), d], channel);
    let select_evals = vec![
        eval_mle_base(h, &rho),
        eval_mle_base(mx, &column_point(&rho, lr)),
        eval_mle_base(x, &rho),
    ];
    channel.mix_felts(&select_evals);
    out.aux.push(Claim::new(rho.clone(), select_evals[0]));
    out.max
        .push(Claim::new(column_point(&rho, lr), select_evals[1]));
    out.input.push(Claim::new(rho, select_evals[2]));
    out.aux.push(one_hot_row_sum(&u, mask));
    (
        RowMaxProof {
            x_eval,
            off_mask,
            select,
            select_evals,
        },
        out,
    )
}

/// `sum_j h(u, j) = [u real]`: the claim `h(u, 1/2, ...) = rowmask(u) / 2^log_cols`.
fn one_hot_row_sum(u: &[QM31], mask: &RealMask) -> Claim {
    let (point, inv) = row_sum_point(u, mask.log_cols as usize);
    Claim::new(point, row_mask_eval(mask.rows, u) * inv)
}

/// Verifier side of [`prove_row_max`].
pub fn verify_row_max(
    proof: &RowMaxProof,
    mask: &RealMask,
    gap: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<SoftmaxClaims, GkrError> {
    let (lr, n) = (mask.log_rows as usize, n_vars(mask));
    dimension(n, gap)?;
    channel.mix_felts(&[proof.x_eval]);
    let mut out = SoftmaxClaims::default();
    out.input.push(Claim::new(gap.point.clone(), proof.x_eval));
    out.max.push(Claim::new(
        column_point(&gap.point, lr),
        gap.value + proof.x_eval,
    ));
    out.aux
        .push(verify_zero_off_mask(&proof.off_mask, mask, channel)?);

    let u = channel.draw_secure_felts(lr);
    let (rho, last) =
        sumcheck::verify(QM31::zero(), &proof.select, n, 3, channel).map_err(|source| {
            GkrError::Sumcheck {
                layer: "row max selection",
                source,
            }
        })?;
    let [h, mx, x] = proof.select_evals[..] else {
        return Err(GkrError::FinalEvalMismatch {
            layer: "row max selection (wrong number of values)",
        });
    };
    if eq_eval(&u, &rho[..lr]) * h * (mx - x) != last {
        return Err(GkrError::FinalEvalMismatch {
            layer: "row max selection",
        });
    }
    channel.mix_felts(&proof.select_evals);
    out.aux.push(Claim::new(rho.clone(), h));
    out.max.push(Claim::new(column_point(&rho, lr), mx));
    out.input.push(Claim::new(rho, x));
    out.aux.push(one_hot_row_sum(&u, mask));
    Ok(out)
}

/// Prover messages of the exp node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftmaxExpProof {
    /// `x` at the lookup's point.
    #[serde(with = "sumcheck::felt::qm31")]
    pub x_eval: QM31,
    /// `e = 0` off the mask.
    pub off_mask: ZeroProof,
}

/// Exp: `arg` is the lookup's claim on the table input `x - mx_b`; the claim on `e` from the
/// lookup is routed by the caller.
#[cfg(feature = "prover")]
pub fn prove_softmax_exp(
    x: &[M31],
    e: &[M31],
    mask: &RealMask,
    arg: &Claim,
    channel: &mut Blake2sChannel,
) -> (SoftmaxExpProof, SoftmaxClaims) {
    let x_eval = eval_mle_base(x, &arg.point);
    channel.mix_felts(&[x_eval]);
    let (off_mask, ce) = prove_zero_off_mask(e, mask, channel);
    let out = exp_claims(x_eval, arg, mask, ce);
    (SoftmaxExpProof { x_eval, off_mask }, out)
}

fn exp_claims(x_eval: QM31, arg: &Claim, mask: &RealMask, ce: Claim) -> SoftmaxClaims {
    SoftmaxClaims {
        input: vec![Claim::new(arg.point.clone(), x_eval)],
        max: vec![Claim::new(
            column_point(&arg.point, mask.log_rows as usize),
            x_eval - arg.value,
        )],
        aux: vec![ce],
    }
}

/// Verifier side of [`prove_softmax_exp`].
pub fn verify_softmax_exp(
    proof: &SoftmaxExpProof,
    mask: &RealMask,
    arg: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<SoftmaxClaims, GkrError> {
    dimension(n_vars(mask), arg)?;
    channel.mix_felts(&[proof.x_eval]);
    let ce = verify_zero_off_mask(&proof.off_mask, mask, channel)?;
    Ok(exp_claims(proof.x_eval, arg, mask, ce))
}

/// Prover messages of the division node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftmaxDivProof {
    /// `e` at the lookup's point.
    #[serde(with = "sumcheck::felt::qm31")]
    pub e_eval: QM31,
    /// `(p * s_b)(rho) = e(rho) 2^q - r(rho)`.
    pub product: MulProof,
    /// `p = 0` off the mask.
    pub off_mask: ZeroProof,
}

/// The row sums of `e` broadcast over the columns.
#[cfg(feature = "prover")]
fn broadcast_row_sums(e: &[M31], log_cols: usize) -> Vec<M31> {
    let s: Vec<M31> = e
        .chunks(1 << log_cols)
        .map(|r| r.iter().copied().sum())
        .collect();
    (0..e.len()).map(|i| s[i >> log_cols]).collect()
}

/// A claim `s(rows_point) = s_val` on the row sums of `e` as a claim on `e`.
fn row_sum_claim(rows_point: &[QM31], s_val: QM31, log_cols: usize) -> Claim {
    let (point, inv) = row_sum_point(rows_point, log_cols);
    Claim::new(point, s_val * inv)
}

/// Division: `rem` and `gap` are the lookups' claims on `r = e 2^q - p s_b` and
/// `s_b - 1 - r` (at one point).
#[cfg(feature = "prover")]
pub fn prove_softmax_div(
    e: &[M31],
    p: &[M31],
    mask: &RealMask,
    shift: u32,
    rem: &Claim,
    gap: &Claim,
    channel: &mut Blake2sChannel,
) -> (SoftmaxDivProof, SoftmaxClaims) {
    let (lr, lc) = (mask.log_rows as usize, mask.log_cols as usize);
    let e_eval = eval_mle_base(e, &rem.point);
    channel.mix_felts(&[e_eval]);
    let two_q = M31::from_u32_unchecked(1 << shift);
    let prod = Claim::new(rem.point.clone(), e_eval * two_q - rem.value);
    let s_b = broadcast_row_sums(e, lc);
    let (product, cp, cs) = prove_mul(p, &s_b, &prod, channel);
    let (off_mask, cz) = prove_zero_off_mask(p, mask, channel);
    let s_at_rem = rem.value + gap.value + QM31::one();
    let out = SoftmaxClaims {
        input: vec![
            Claim::new(rem.point.clone(), e_eval),
            row_sum_claim(&rem.point[..lr], s_at_rem, lc),
            row_sum_claim(&cs.point[..lr], cs.value, lc),
        ],
        max: vec![],
        aux: vec![cp, cz],
    };
    (
        SoftmaxDivProof {
            e_eval,
            product,
            off_mask,
        },
        out,
    )
}

/// Verifier side of [`prove_softmax_div`].
pub fn verify_softmax_div(
    proof: &SoftmaxDivProof,
    mask: &RealMask,
    shift: u32,
    rem: &Claim,
    gap: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<SoftmaxClaims, GkrError> {
    let (lr, lc) = (mask.log_rows as usize, mask.log_cols as usize);
    dimension(n_vars(mask), rem)?;
    if gap.point != rem.point {
        return Err(GkrError::FinalEvalMismatch {
            layer: "softmax division (remainder columns at different points)",
        });
    }
    channel.mix_felts(&[proof.e_eval]);
    let two_q = M31::from_u32_unchecked(1 << shift);
    let prod = Claim::new(rem.point.clone(), proof.e_eval * two_q - rem.value);
    let (cp, cs) = verify_mul(&proof.product, &prod, channel)?;
    let cz = verify_zero_off_mask(&proof.off_mask, mask, channel)?;
    let s_at_rem = rem.value + gap.value + QM31::one();
    Ok(SoftmaxClaims {
        input: vec![
            Claim::new(rem.point.clone(), proof.e_eval),
            row_sum_claim(&rem.point[..lr], s_at_rem, lc),
            row_sum_claim(&cs.point[..lr], cs.value, lc),
        ],
        max: vec![],
        aux: vec![cp, cz],
    })
}

#[cfg(test)]
#[path = "softmax_tests.rs"]
mod tests;
