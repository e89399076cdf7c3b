//! Protocol parameters.

use serde::{Deserialize, Serialize};

use crate::error::PcsError;
use crate::soundness;

/// Largest `n_variables + log_blowup` supported (codeword domain size `2^28`).
pub const MAX_LOG_CODEWORD: u32 = 28;

/// Soundness cap from the field and the sumcheck: `|QM31| ~ 2^124`, and the Schwartz-Zippel
/// error of the degree-2 sumcheck over up to 28 rounds plus the batching challenges is below
/// `2^-117`.
pub const FIELD_BOUND_BITS: u32 = 117;

/// Parameters of the commitment scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PcsConfig {
    /// Reed-Solomon rate is `2^-log_blowup`.
    pub log_blowup: u32,
    /// Number of query positions drawn in the initial codeword domain.
    pub n_queries: usize,
    /// Proof-of-work bits ground before the queries are drawn.
    pub pow_bits: u32,
    /// After the first group, each committed folded layer's Merkle leaf holds
    /// `2^fold_arity_log` entries; one layer in `fold_arity_log` folds is committed.
    pub fold_arity_log: u32,
    /// Leaf size (log) of a committed polynomial's own codeword tree (capped at its number of
    /// variables) and number of folds before the first folded layer is committed. At least
    /// `fold_arity_log`. Fixed at commit time: a commitment is only valid under the value it
    /// was made with.
    pub first_fold_arity_log: u32,
}

impl Default for PcsConfig {
    /// 96 conjectured bits: `38 * 2 + 20`.
    fn default() -> Self {
        Self {
            log_blowup: 2,
            n_queries: 38,
            pow_bits: 20,
            fold_arity_log: 4,
            first_fold_arity_log: 8,
        }
    }
}

impl PcsConfig {
    /// Conjectured security in bits (ethSTARK / STWO convention: every query of a rate
    /// `2^-log_blowup` code contributes `log_blowup` bits, plus the grinding bits), capped at
    /// [`FIELD_BOUND_BITS`]. The convention sets the commit-phase error aside; see
    /// [`Self::provable_security_bits`] and docs/soundness.md for what the theorems give.
    pub fn security_bits(&self) -> u32 {
        let queries = (self.n_queries as u64).saturating_mul(self.log_blowup as u64);
        let total = queries.saturating_add(self.pow_bits as u64);
        total.min(FIELD_BOUND_BITS as u64) as u32
    }

    /// Provable security in bits of an opening whose largest codeword has `2^log_domain`
    /// entries: commit-phase (proximity-gap) error plus query-phase error, each from a
    /// published theorem, in whichever of two regimes gives more bits, capped at
    /// [`FIELD_BOUND_BITS`]. Unlike [`Self::security_bits`] it falls as the domain grows and
    /// does not grow without bound with the queries. The derivation is in docs/soundness.md
    /// ("Commitment"); [`soundness`] has the two regimes' terms.
    pub fn provable_security_bits(&self, log_domain: u32) -> u32 {
        let unique = soundness::unique_decoding(self, log_domain).bits();
        let johnson = soundness::johnson(self, log_domain).bits();
        let bits = unique.max(johnson).floor().max(0.0);
        (bits as u32).min(FIELD_BOUND_BITS)
    }

    /// Checks that every parameter is in its supported range.
    pub fn validate(&self) -> Result<(), PcsError> {
        let bad = |what: &'static str| Err(PcsError::BadConfig { what });
        if !(1..=8).contains(&self.log_blowup) {
            return bad("log_blowup must be in 1..=8");
        }
        if !(1..=512).contains(&self.n_queries) {
            return bad("n_queries must be in 1..=512");
        }
        if self.pow_bits > 32 {
            return bad("pow_bits must be at most 32");
        }
        if !(1..=5).contains(&self.fold_arity_log) {
            return bad("fold_arity_log must be in 1..=5");
        }
        if !(self.fold_arity_log..=10).contains(&self.first_fold_arity_log) {
            return bad("first_fold_arity_log must be in fold_arity_log..=10");
        }
        Ok(())
    }

    /// Largest number of variables a committed polynomial may have under this config.
    pub fn max_n_variables(&self) -> u32 {
        MAX_LOG_CODEWORD.saturating_sub(self.log_blowup)
    }
}
