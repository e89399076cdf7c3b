//! Provable soundness error of a Basefold opening; the derivation is in docs/soundness.md
//! ("Commitment").
//!
//! The error is a commit-phase term (a folding or batching challenge for which a word far from
//! the code turns into one close to it) plus a query-phase term (every query of a far word
//! passes), the latter divided by `2^pow_bits`. Both come from the proximity gaps of
//! Reed–Solomon codes (Ben-Sasson, Carmon, Ishai, Kopparty, Saraf, "Proximity Gaps for
//! Reed–Solomon Codes", FOCS 2020, ePrint 2020/654), which carry over to STWO's circle codes
//! with the same constants (Haböck, Levit, Papini, "Circle STARKs", ePrint 2024/278):
//! - unique decoding, proximity `delta -> (1 - rho) / 2`: a line (or affine space) of words
//!   with a point `delta`-close to the code on more than `n / |F|` of its points is close
//!   everywhere; a query of a `delta`-far word passes with probability `1 - delta`;
//! - Johnson range, `alpha = sqrt(rho) (1 + 1 / (2m))` for `m >= 3`: the same with
//!   `(m + 1/2)^7 n^2 / (3 rho^(3/2) |F|)` points; a query passes with probability `alpha`.
//!
//! A codeword of length `n` is folded in rounds of lengths `n, n/2, ..., 1`, and at each length
//! at most one more statement is spent on the random combination of the codewords of that
//! length (the batching of several polynomials and those that join the fold there), so the
//! commit-phase error is at most `2 sum_i eps(n / 2^i)`: `4 n / |F|` (unique decoding) or
//! `(8/3) K n^2 / |F|` (Johnson, `K` the constant above).

use stwo::core::fields::m31::P;

use crate::config::PcsConfig;

/// Largest Johnson parameter `m` tried: beyond it the commit-phase term only grows.
const MAX_JOHNSON_M: u32 = 64;

/// `log2 |QM31| = 4 log2(2^31 - 1)`.
fn log_field() -> f64 {
    4.0 * f64::from(P).log2()
}

/// `log2(2^a + 2^b)`.
fn log2_sum(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    hi + (1.0 + (lo - hi).exp2()).log2()
}

/// One regime's two error terms, as `log2` of their probabilities.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorTerms {
    /// Commit phase: a bad folding or batching challenge.
    pub commit_log: f64,
    /// Query phase, grinding included: every query of a far word passes.
    pub query_log: f64,
    /// The Johnson parameter `m` (0 in the unique-decoding regime).
    pub m: u32,
}

impl ErrorTerms {
    /// `-log2` of the summed error.
    pub fn bits(&self) -> f64 {
        -log2_sum(self.commit_log, self.query_log)
    }
}

/// The unique-decoding regime's terms for a largest codeword of `2^log_domain` entries.
pub fn unique_decoding(config: &PcsConfig, log_domain: u32) -> ErrorTerms {
    let rho = (-f64::from(config.log_blowup)).exp2();
    // 2 statements per length, sum_i n / 2^i < 2n.
    let commit_log = 2.0 + f64::from(log_domain) - log_field();
    let pass = ((1.0 + rho) / 2.0).log2();
    ErrorTerms {
        commit_log,
        query_log: config.n_queries as f64 * pass - f64::from(config.pow_bits),
        m: 0,
    }
}

/// The Johnson-range terms for `m`.
pub fn johnson_at(config: &PcsConfig, log_domain: u32, m: u32) -> ErrorTerms {
    let log_rho = -f64::from(config.log_blowup);
    let m_f = f64::from(m);
    // log2 of (8/3) (m + 1/2)^7 / (3 rho^(3/2)): 2 statements per length, sum_i (n/2^i)^2 < (4/3) n^2.
    let constant = (8.0f64 / 9.0).log2() + 7.0 * (m_f + 0.5).log2() - 1.5 * log_rho;
    let commit_log = constant + 2.0 * f64::from(log_domain) - log_field();
    let alpha_log = 0.5 * log_rho + (1.0 + 1.0 / (2.0 * m_f)).log2();
    ErrorTerms {
        commit_log,
        query_log: config.n_queries as f64 * alpha_log.min(0.0) - f64::from(config.pow_bits),
        m,
    }
}

/// The Johnson-range terms for the `m` in `3..=64` that gives the most bits.
pub fn johnson(config: &PcsConfig, log_domain: u32) -> ErrorTerms {
    (3..=MAX_JOHNSON_M)
        .map(|m| johnson_at(config, log_domain, m))
        .fold(johnson_at(config, log_domain, 3), |best, t| {
            if t.bits() > best.bits() {
                t
            } else {
                best
            }
        })
}
