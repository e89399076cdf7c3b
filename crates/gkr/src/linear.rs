//! Linear reshaping layers whose reductions need at most a prover-named evaluation: row sums,
//! constant scaling and offsets, and RoPE's rotate-half.
//!
//! - Row sum `y_i = sum_j x_ij`: the sum of a multilinear `x(r_i, .)` over `{0,1}^c` is
//!   `2^c x(r_i, 1/2, ..., 1/2)`, so a claim on `y` becomes one claim on `x`, no sumcheck.
//! - `c x` and `x + c` (on the real entries, through the MLEs of the row and column masks).
//! - rotate-half flips the top bit `t` of each column block with a sign:
//!   `y(r) = r_t x(r|t=0) - (1 - r_t) x(r|t=1)`.

use num_traits::One;
use serde::{Deserialize, Serialize};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
#[cfg(feature = "prover")]
use sumcheck::eval_mle_base;

use crate::claim::Claim;
use crate::elementwise::row_mask_eval;
use crate::error::GkrError;

/// A single evaluation named by the prover.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalProof {
    #[serde(with = "sumcheck::felt::qm31")]
    pub value: QM31,
}

/// Two evaluations named by the prover (rotate-half).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairProof {
    #[serde(with = "sumcheck::felt::qm31")]
    pub low: QM31,
    #[serde(with = "sumcheck::felt::qm31")]
    pub high: QM31,
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

fn row_sum_point(claim: &Claim, log_rows: usize, log_cols_x: usize) -> Vec<QM31> {
    let half = QM31::from(M31::from(2u32).inverse());
    let mut p = claim.point[..log_rows].to_vec();
    p.extend(std::iter::repeat_n(half, log_cols_x));
    p
}

/// Row sum: `claim` is on `y` (`2^log_rows x 2`, the sum in column 0); returns the claim on `x`.
#[cfg(feature = "prover")]
pub fn prove_row_sum(
    x: &[M31],
    log_rows: usize,
    log_cols_x: usize,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (EvalProof, Claim) {
    let point = row_sum_point(claim, log_rows, log_cols_x);
    let value = eval_mle_base(x, &point);
    channel.mix_felts(&[value]);
    (EvalProof { value }, Claim::new(point, value))
}

/// Verifier side of [`prove_row_sum`]: `y(r_i, r_c) = (1 - r_c) 2^c x(r_i, 1/2..)`.
pub fn verify_row_sum(
    proof: &EvalProof,
    log_rows: usize,
    log_cols_x: usize,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<Claim, GkrError> {
    dimension(log_rows + 1, claim)?;
    let r_c = claim.point[log_rows];
    let scale = M31::from_u32_unchecked(1 << log_cols_x);
    if claim.value != (QM31::one() - r_c) * proof.value * scale {
        return Err(GkrError::FinalEvalMismatch { layer: "row sum" });
    }
    channel.mix_felts(&[proof.value]);
    Ok(Claim::new(
        row_sum_point(claim, log_rows, log_cols_x),
        proof.value,
    ))
}

/// `y = c x`: the prover names `x(r)`.
#[cfg(feature = "prover")]
pub fn prove_mul_const(
    x: &[M31],
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (EvalProof, Claim) {
    let value = eval_mle_base(x, &claim.point);
    channel.mix_felts(&[value]);
    (EvalProof { value }, Claim::new(claim.point.clone(), value))
}

/// Verifier side of [`prove_mul_const`].
pub fn verify_mul_const(
    proof: &EvalProof,
    c: M31,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<Claim, GkrError> {
    if claim.value != proof.value * c {
        return Err(GkrError::FinalEvalMismatch { layer: "mul const" });
    }
    channel.mix_felts(&[proof.value]);
    Ok(Claim::new(claim.point.clone(), proof.value))
}

/// `y = x + c` on the `rows x cols` real entries: the claim on `x` is
/// `y(r) - c mask_rows(r_i) mask_cols(r_j)`. Prover and verifier compute it alike.
pub fn add_const_claim(
    c: M31,
    rows: usize,
    cols: usize,
    log_rows: usize,
    claim: &Claim,
) -> Result<Claim, GkrError> {
    if claim.point.len() < log_rows {
        return Err(GkrError::PointDimension {
            expected: log_rows,
            got: claim.point.len(),
        });
    }
    let (r_i, r_j) = claim.point.split_at(log_rows);
    let mask = row_mask_eval(rows, r_i) * row_mask_eval(cols, r_j);
    Ok(Claim::new(claim.point.clone(), claim.value - mask * c))
}

/// Several evaluations named by the prover (the parts of a concatenation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalsProof {
    #[serde(with = "sumcheck::felt::qm31_vec")]
    pub values: Vec<QM31>,
}

fn bits(value: usize, n: usize) -> impl Iterator<Item = QM31> {
    (0..n).map(move |j| QM31::from(M31::from_u32_unchecked(((value >> (n - 1 - j)) & 1) as u32)))
}

/// A claim on an aligned column slice (block `block` of width `2^log_len` of an input with
/// `2^log_cols` padded columns) is the claim on the input with the block's index bits
/// inserted: no prover message.
pub fn slice_claim(
    claim: &Claim,
    log_rows: usize,
    log_cols: usize,
    log_len: usize,
    block: usize,
) -> Result<Claim, GkrError> {
    dimension(log_rows + log_len, claim)?;
    let (r_i, r_j) = claim.point.split_at(log_rows);
    let mut point = r_i.to_vec();
    point.extend(bits(block, log_cols - log_len));
    point.extend_from_slice(r_j);
    Ok(Claim::new(point, claim.value))
}

/// A claim on an aligned row slice (block `block` of height `2^log_len` of an input with
/// `2^log_rows` padded rows and `log_cols` column variables) is the claim on the input with the
/// block's index bits as its leading row variables: no prover message.
pub fn row_slice_claim(
    claim: &Claim,
    log_rows: usize,
    log_cols: usize,
    log_len: usize,
    block: usize,
) -> Result<Claim, GkrError> {
    dimension(log_len + log_cols, claim)?;
    let mut point: Vec<QM31> = bits(block, log_rows - log_len).collect();
    point.extend_from_slice(&claim.point);
    Ok(Claim::new(point, claim.value))
}

/// Concatenation of `parts.len()` parts of `2^log_w` columns: `y(r_i, r_b, r_j) =
/// sum_b eq(r_b, b) part_b(r_i, r_j)`. The prover names every `part_b(r_i, r_j)`.
#[cfg(feature = "prover")]
pub fn prove_concat(
    parts: &[&[M31]],
    log_rows: usize,
    log_w: usize,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (EvalsProof, Vec<Claim>) {
    let n_b = claim.point.len() - log_rows - log_w;
    let point: Vec<QM31> = [&claim.point[..log_rows], &claim.point[log_rows + n_b..]].concat();
    let values: Vec<QM31> = parts.iter().map(|p| eval_mle_base(p, &point)).collect();
    channel.mix_felts(&values);
    let claims = values
        .iter()
        .map(|&v| Claim::new(point.clone(), v))
        .collect();
    (EvalsProof { values }, claims)
}

/// Verifier side of [`prove_concat`] for `n_parts` parts.
pub fn verify_concat(
    proof: &EvalsProof,
    n_parts: usize,
    log_rows: usize,
    log_w: usize,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<Vec<Claim>, GkrError> {
    let n_b = n_parts.next_power_of_two().ilog2() as usize;
    dimension(log_rows + n_b + log_w, claim)?;
    if proof.values.len() != n_parts {
        return Err(GkrError::FinalEvalMismatch {
            layer: "concat (wrong number of parts)",
        });
    }
    let r_b = &claim.point[log_rows..log_rows + n_b];
    let total: QM31 = proof
        .values
        .iter()
        .enumerate()
        .map(|(b, &v)| sumcheck::eq_eval(&bits(b, n_b).collect::<Vec<_>>(), r_b) * v)
        .sum();
    if total != claim.value {
        return Err(GkrError::FinalEvalMismatch { layer: "concat" });
    }
    channel.mix_felts(&proof.values);
    let point: Vec<QM31> = [&claim.point[..log_rows], &claim.point[log_rows + n_b..]].concat();
    Ok(proof
        .values
        .iter()
        .map(|&v| Claim::new(point.clone(), v))
        .collect())
}

/// The column offset of each part of an aligned concatenation (widths `2^log_widths[p]`,
/// non-increasing), as `(leading bits value, number of leading bits)` within `log_cols`.
fn aligned_blocks(log_widths: &[usize], log_cols: usize) -> Vec<(usize, usize)> {
    let mut offset = 0usize;
    log_widths
        .iter()
        .map(|&lw| {
            let lead = log_cols - lw;
            let b = (offset >> lw, lead);
            offset += 1 << lw;
            b
        })
        .collect()
}

/// Parts of widths `2^log_widths[p]` (non-increasing, so each starts at a multiple of its
/// width) side by side in `2^log_cols` padded columns: `y(r_i, r_c) = sum_p eq(r_c[..lead_p],
/// block_p) part_p(r_i, r_c[lead_p..])`. The prover names every part's value.
#[cfg(feature = "prover")]
pub fn prove_concat_aligned(
    parts: &[&[M31]],
    log_rows: usize,
    log_widths: &[usize],
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (EvalsProof, Vec<Claim>) {
    let log_cols = claim.point.len() - log_rows;
    let points: Vec<Vec<QM31>> = aligned_blocks(log_widths, log_cols)
        .iter()
        .map(|&(_, lead)| [&claim.point[..log_rows], &claim.point[log_rows + lead..]].concat())
        .collect();
    let values: Vec<QM31> = parts
        .iter()
        .zip(&points)
        .map(|(p, pt)| eval_mle_base(p, pt))
        .collect();
    channel.mix_felts(&values);
    let claims = values
        .iter()
        .zip(points)
        .map(|(&v, pt)| Claim::new(pt, v))
        .collect();
    (EvalsProof { values }, claims)
}

/// Verifier side of [`prove_concat_aligned`].
pub fn verify_concat_aligned(
    proof: &EvalsProof,
    log_rows: usize,
    log_cols: usize,
    log_widths: &[usize],
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<Vec<Claim>, GkrError> {
    dimension(log_rows + log_cols, claim)?;
    if proof.values.len() != log_widths.len() || log_widths.iter().any(|&w| w > log_cols) {
        return Err(GkrError::FinalEvalMismatch {
            layer: "concat_aligned (wrong number of parts)",
        });
    }
    let r_c = &claim.point[log_rows..];
    let blocks = aligned_blocks(log_widths, log_cols);
    let total: QM31 = proof
        .values
        .iter()
        .zip(&blocks)
        .map(|(&v, &(b, lead))| {
            sumcheck::eq_eval(&bits(b, lead).collect::<Vec<_>>(), &r_c[..lead]) * v
        })
        .sum();
    if total != claim.value {
        return Err(GkrError::FinalEvalMismatch {
            layer: "concat_aligned",
        });
    }
    channel.mix_felts(&proof.values);
    Ok(proof
        .values
        .iter()
        .zip(&blocks)
        .map(|(&v, &(_, lead))| {
            let pt = [&claim.point[..log_rows], &claim.point[log_rows + lead..]].concat();
            Claim::new(pt, v)
        })
        .collect())
}

fn column_point(claim: &Claim, log_rows: usize) -> Vec<QM31> {
    let mut p = claim.point[..log_rows].to_vec();
    p.push(QM31::default());
    p
}

/// Broadcast of an `m x 1` column (stored `2^log_rows x 2`) over `cols` columns: the prover
/// names the column's value at `(r_i, 0)`.
#[cfg(feature = "prover")]
pub fn prove_broadcast_column(
    column: &[M31],
    log_rows: usize,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (EvalProof, Claim) {
    let point = column_point(claim, log_rows);
    let value = eval_mle_base(column, &point);
    channel.mix_felts(&[value]);
    (EvalProof { value }, Claim::new(point, value))
}

/// Verifier side of [`prove_broadcast_column`]: `y(r_i, r_j) = s(r_i, 0) mask_cols(r_j)`.
pub fn verify_broadcast_column(
    proof: &EvalProof,
    log_rows: usize,
    cols: usize,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<Claim, GkrError> {
    if claim.point.len() <= log_rows {
        return Err(GkrError::PointDimension {
            expected: log_rows + 1,
            got: claim.point.len(),
        });
    }
    let mask = row_mask_eval(cols, &claim.point[log_rows..]);
    if claim.value != proof.value * mask {
        return Err(GkrError::FinalEvalMismatch {
            layer: "broadcast column",
        });
    }
    channel.mix_felts(&[proof.value]);
    Ok(Claim::new(column_point(claim, log_rows), proof.value))
}

/// Broadcast of a `1 x n` row down `rows` rows: the prover names the row's value at the
/// column part `r_j` of the claim point.
#[cfg(feature = "prover")]
pub fn prove_broadcast_row(
    row: &[M31],
    log_rows: usize,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (EvalProof, Claim) {
    let point = claim.point[log_rows..].to_vec();
    let value = eval_mle_base(row, &point);
    channel.mix_felts(&[value]);
    (EvalProof { value }, Claim::new(point, value))
}

/// Verifier side of [`prove_broadcast_row`]: `y(r_i, r_j) = mask_rows(r_i) x(r_j)`, padded
/// rows zero.
pub fn verify_broadcast_row(
    proof: &EvalProof,
    log_rows: usize,
    rows: usize,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<Claim, GkrError> {
    if claim.point.len() <= log_rows {
        return Err(GkrError::PointDimension {
            expected: log_rows + 1,
            got: claim.point.len(),
        });
    }
    let mask = row_mask_eval(rows, &claim.point[..log_rows]);
    if claim.value != proof.value * mask {
        return Err(GkrError::FinalEvalMismatch {
            layer: "broadcast row",
        });
    }
    channel.mix_felts(&[proof.value]);
    Ok(Claim::new(claim.point[log_rows..].to_vec(), proof.value))
}

fn with_bit(point: &[QM31], t: usize, bit: u32) -> Vec<QM31> {
    let mut p = point.to_vec();
    p[t] = QM31::from(M31::from_u32_unchecked(bit));
    p
}

/// Rotate-half with the block's top bit at coordinate `t` of the point.
#[cfg(feature = "prover")]
pub fn prove_rotate_half(
    x: &[M31],
    t: usize,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (PairProof, Claim, Claim) {
    let (p0, p1) = (with_bit(&claim.point, t, 0), with_bit(&claim.point, t, 1));
    let (low, high) = (eval_mle_base(x, &p0), eval_mle_base(x, &p1));
    channel.mix_felts(&[low, high]);
    (
        PairProof { low, high },
        Claim::new(p0, low),
        Claim::new(p1, high),
    )
}

/// Verifier side of [`prove_rotate_half`].
pub fn verify_rotate_half(
    proof: &PairProof,
    t: usize,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<(Claim, Claim), GkrError> {
    if t >= claim.point.len() {
        return Err(GkrError::PointDimension {
            expected: t + 1,
            got: claim.point.len(),
        });
    }
    let r_t = claim.point[t];
    if claim.value != r_t * proof.low - (QM31::one() - r_t) * proof.high {
        return Err(GkrError::FinalEvalMismatch {
            layer: "rotate half",
        });
    }
    channel.mix_felts(&[proof.low, proof.high]);
    Ok((
        Claim::new(with_bit(&claim.point, t, 0), proof.low),
        Claim::new(with_bit(&claim.point, t, 1), proof.high),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(n: u32) -> Vec<QM31> {
        (0..n)
            .map(|i| QM31::from_u32_unchecked(i * 5 + 2, 3, 1, i))
            .collect()
    }

    #[test]
    fn row_sum_and_rotate_half_work() {
        // x: 4 x 8; y = row sums in a 4 x 2 table.
        let x: Vec<M31> = (0..32).map(|i| M31::from(i * 7 % 23)).collect();
        let mut y = vec![M31::from(0); 8];
        for r in 0..4 {
            y[2 * r] = (0..8).map(|c| x[r * 8 + c]).sum();
        }
        let claim = Claim::new(pt(3), eval_mle_base(&y, &pt(3)));
        let mut pc = Blake2sChannel::default();
        let (p, cx) = prove_row_sum(&x, 2, 3, &claim, &mut pc);
        assert_eq!(eval_mle_base(&x, &cx.point), cx.value);
        let v = verify_row_sum(&p, 2, 3, &claim, &mut Blake2sChannel::default()).unwrap();
        assert_eq!(v, cx);
        let bad = Claim::new(claim.point.clone(), claim.value + QM31::one());
        assert!(verify_row_sum(&p, 2, 3, &bad, &mut Blake2sChannel::default()).is_err());

        // rotate-half on blocks of 4 columns of a 4 x 8 table: top bit of the block is
        // coordinate 2 + 1 = 3.
        let rot: Vec<M31> = (0..32)
            .map(|i| if i % 4 < 2 { -x[i + 2] } else { x[i - 2] })
            .collect();
        let claim = Claim::new(pt(5), eval_mle_base(&rot, &pt(5)));
        let (p, c0, c1) = prove_rotate_half(&x, 3, &claim, &mut Blake2sChannel::default());
        assert_eq!(eval_mle_base(&x, &c0.point), c0.value);
        assert_eq!(eval_mle_base(&x, &c1.point), c1.value);
        assert!(verify_rotate_half(&p, 3, &claim, &mut Blake2sChannel::default()).is_ok());
        let bad = Claim::new(claim.point.clone(), claim.value + QM31::one());
        assert!(verify_rotate_half(&p, 3, &bad, &mut Blake2sChannel::default()).is_err());
    }

    #[test]
    fn add_const_claim_masks_padding() {
        // x: 3 x 3 real in a 4 x 4 table; y = x + 5 on real entries.
        let x: Vec<M31> = (0..16)
            .map(|i| M31::from(if i % 4 < 3 && i < 12 { i + 1 } else { 0 }))
            .collect();
        let y: Vec<M31> = (0..16)
            .map(|i| {
                if i % 4 < 3 && i < 12 {
                    x[i as usize] + M31::from(5)
                } else {
                    M31::from(0)
                }
            })
            .collect();
        let claim = Claim::new(pt(4), eval_mle_base(&y, &pt(4)));
        let c = add_const_claim(M31::from(5), 3, 3, 2, &claim).unwrap();
        assert_eq!(eval_mle_base(&x, &c.point), c.value);
    }
}
