//! Typed proof configuration and its security level.

use pcs::PcsConfig;
use serde::{Deserialize, Serialize};

/// Everything that sets the soundness of a proof. Fixed at the edge (CLI flags, server
/// configuration) and bound into the model digest, so prover and verifier cannot disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofConfig {
    pub pcs: PcsConfig,
    /// Largest committed weight polynomial (`log2` of its entries): packed weights beyond it
    /// are committed as several polynomials, opened together. Capped by what the commitment
    /// scheme supports ([`PcsConfig::max_n_variables`]).
    pub max_weight_poly_vars: u32,
}

impl Default for ProofConfig {
    fn default() -> Self {
        let pcs = PcsConfig::default();
        Self {
            pcs,
            max_weight_poly_vars: pcs.max_n_variables(),
        }
    }
}

/// `log2 |QM31|` rounded down (`|QM31| = (2^31 - 1)^4`).
pub const QM31_BITS: u32 = 123;

impl ProofConfig {
    /// [`Self::max_weight_poly_vars`] within the commitment scheme's limit.
    pub fn weight_poly_vars(&self) -> u32 {
        self.max_weight_poly_vars
            .min(self.pcs.max_n_variables())
            .max(1)
    }

    /// The security level of a proof of a circuit whose algebraic checks have
    /// `algebraic_error_log` = `log2` of the summed Schwartz–Zippel numerators (see
    /// [`crate::circuit::Circuit::algebraic_error_log`]): the weaker of the commitment's level
    /// and `QM31_BITS - algebraic_error_log`.
    pub fn security_bits(&self, algebraic_error_log: u32) -> u32 {
        self.pcs
            .security_bits()
            .min(QM31_BITS.saturating_sub(algebraic_error_log))
    }
}
