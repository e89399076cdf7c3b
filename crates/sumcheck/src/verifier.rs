//! Sumcheck verifier that fixes the shape of the proof from the statement, not from the proof.
//!
//! The transcript is that of STWO's `partially_verify`: per round, the round polynomial's
//! coefficients are mixed into the channel, then one challenge is drawn.

use stwo::core::channel::Channel;
use stwo::core::fields::qm31::QM31;
use thiserror::Error;

use crate::proof::SumcheckProof;

/// Why a sumcheck proof was rejected.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SumcheckError {
    #[error("expected {expected} sumcheck rounds, proof has {got}")]
    WrongRoundCount { expected: usize, got: usize },
    #[error("round {round}: polynomial has {got} coefficients, at most {max} allowed")]
    DegreeTooHigh {
        round: usize,
        got: usize,
        max: usize,
    },
    #[error("round {round}: polynomial has a trailing zero coefficient (non-canonical)")]
    NonCanonical { round: usize },
    #[error("round {round}: p(0) + p(1) does not equal the running claim")]
    RoundSumMismatch { round: usize },
}

/// Checks the rounds of a sumcheck proof for `claim = sum_x g(x)` over `n_rounds` variables with
/// round polynomials of degree at most `max_degree`, drawing challenges from `channel`.
///
/// Each round polynomial must be canonical: at most `max_degree + 1` coefficients and no
/// trailing zero, so one polynomial has one encoding (the zero polynomial is empty). Honest
/// provers trim trailing zeros (STWO's `UnivariatePoly::new`); a batched round polynomial (a
/// random combination of several) keeps a zero top coefficient only if the combination cancels
/// it, which happens with probability at most `n / |QM31|`.
///
/// Returns the challenge point (one coordinate per round, in round order) and the claimed value
/// `g(point)`, which the caller must check.
pub fn verify(
    mut claim: QM31,
    proof: &SumcheckProof,
    n_rounds: usize,
    max_degree: usize,
    channel: &mut impl Channel,
) -> Result<(Vec<QM31>, QM31), SumcheckError> {
    if proof.round_polys.len() != n_rounds {
        return Err(SumcheckError::WrongRoundCount {
            expected: n_rounds,
            got: proof.round_polys.len(),
        });
    }
    let mut point = Vec::with_capacity(n_rounds);
    for (round, p) in proof.round_polys.iter().enumerate() {
        if p.len() > max_degree + 1 {
            return Err(SumcheckError::DegreeTooHigh {
                round,
                got: p.len(),
                max: max_degree + 1,
            });
        }
        if !p.is_canonical() {
            return Err(SumcheckError::NonCanonical { round });
        }
        if p.sum_over_bit() != claim {
            return Err(SumcheckError::RoundSumMismatch { round });
        }
        channel.mix_felts(p);
        let challenge = channel.draw_secure_felt();
        claim = p.eval_at(challenge);
        point.push(challenge);
    }
    Ok((point, claim))
}

#[cfg(test)]
mod tests {
    use num_traits::{One, Zero};
    use stwo::core::channel::Blake2sChannel;

    use super::*;
    use crate::proof::RoundPoly;

    fn qm31(v: u32) -> QM31 {
        QM31::from_u32_unchecked(v, 0, 0, 0)
    }

    /// One round over `g(0) = 3, g(1) = 5`: round polynomial `3 + 2x`.
    fn one_round(coeffs: Vec<QM31>) -> Result<(Vec<QM31>, QM31), SumcheckError> {
        let proof = SumcheckProof {
            round_polys: vec![RoundPoly::new(coeffs)],
        };
        verify(qm31(8), &proof, 1, 2, &mut Blake2sChannel::default())
    }

    #[test]
    fn one_round_works() {
        let (point, eval) = one_round(vec![qm31(3), qm31(2)]).unwrap();
        assert_eq!(eval, qm31(3) + qm31(2) * point[0]);
    }

    #[test]
    fn round_poly_with_trailing_zero_is_rejected() {
        // The same polynomial with a zero top coefficient: same sums, another encoding (and,
        // mixed into the transcript, other challenges), so a second proof of one statement.
        assert_eq!(
            one_round(vec![qm31(3), qm31(2), QM31::zero()]),
            Err(SumcheckError::NonCanonical { round: 0 })
        );
        let zero = SumcheckProof {
            round_polys: vec![RoundPoly::new(vec![QM31::zero()])],
        };
        assert_eq!(
            verify(QM31::zero(), &zero, 1, 2, &mut Blake2sChannel::default()),
            Err(SumcheckError::NonCanonical { round: 0 })
        );
    }

    #[test]
    fn zero_polynomial_is_empty() {
        let zero = SumcheckProof {
            round_polys: vec![RoundPoly::new(vec![])],
        };
        let (_, eval) = verify(QM31::zero(), &zero, 1, 2, &mut Blake2sChannel::default()).unwrap();
        assert_eq!(eval, QM31::zero());
    }

    #[test]
    fn invalid_round_sum_fails() {
        assert_eq!(
            one_round(vec![qm31(3), qm31(3)]),
            Err(SumcheckError::RoundSumMismatch { round: 0 })
        );
        assert_eq!(
            one_round(vec![qm31(3), qm31(2), QM31::one(), QM31::one()]),
            Err(SumcheckError::DegreeTooHigh {
                round: 0,
                got: 4,
                max: 3
            })
        );
    }
}
