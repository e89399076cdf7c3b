//! Sumcheck verifier that fixes the shape of the proof from the statement, not from the proof.

use stwo::core::channel::Channel;
use stwo::core::fields::qm31::QM31;
use stwo::prover::lookups::sumcheck::partially_verify;
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
    #[error("round {round}: p(0) + p(1) does not equal the running claim")]
    RoundSumMismatch { round: usize },
}

/// Checks the rounds of a sumcheck proof for `claim = sum_x g(x)` over `n_rounds` variables with
/// round polynomials of degree at most `max_degree`, drawing challenges from `channel`.
///
/// Returns the challenge point (one coordinate per round, in round order) and the claimed value
/// `g(point)`, which the caller must check.
pub fn verify(
    claim: QM31,
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
    for (round, p) in proof.round_polys.iter().enumerate() {
        if p.len() > max_degree + 1 {
            return Err(SumcheckError::DegreeTooHigh {
                round,
                got: p.len(),
                max: max_degree + 1,
            });
        }
    }
    partially_verify(claim, &proof.to_stwo(), channel).map_err(|e| match e {
        stwo::prover::lookups::sumcheck::SumcheckError::SumInvalid { round, .. } => {
            SumcheckError::RoundSumMismatch { round }
        }
        stwo::prover::lookups::sumcheck::SumcheckError::DegreeInvalid { round } => {
            SumcheckError::DegreeTooHigh {
                round,
                got: proof.round_polys[round].len(),
                max: max_degree + 1,
            }
        }
    })
}
