//! Typed proof configuration and its security level.

use pcs::PcsConfig;
use serde::{Deserialize, Serialize};

use crate::circuit::Circuit;
use crate::error::VerifyError;

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

/// Lowest security level, in bits ([`ProofConfig::security_bits`]), at which a proof is made or
/// accepted ([`check_security`]).
pub const MIN_SECURITY_BITS: u32 = 96;

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

/// The security level of proofs of `circuit` under `config` (the weaker of the commitment's
/// conjectured level and the algebraic checks', [`ProofConfig::security_bits`]), refused below
/// [`MIN_SECURITY_BITS`]. Prover and verifier both call it, so a configuration too weak for the
/// model is refused whoever chose it.
pub fn check_security(config: &ProofConfig, circuit: &Circuit) -> Result<u32, VerifyError> {
    let bits = config.security_bits(circuit.algebraic_error_log());
    if bits < MIN_SECURITY_BITS {
        return Err(VerifyError::InsufficientSecurity {
            bits,
            floor: MIN_SECURITY_BITS,
        });
    }
    Ok(bits)
}

/// `log2` of the longest codeword that the opening of a proof of `circuit` folds: the
/// largest committed weight or advice polynomial, times the blowup.
pub fn log_codeword(config: &ProofConfig, circuit: &Circuit) -> Result<u32, VerifyError> {
    let weights = crate::commitment::weight_chunks(circuit, config)?;
    let advice = circuit.advice_chunks(config)?;
    let vars = weights.vars.iter().chain(&advice.vars).copied().max();
    Ok(vars.unwrap_or(0) + config.pcs.log_blowup)
}

/// The commitment's provable level for proofs of `circuit`
/// ([`PcsConfig::provable_security_bits`] at [`log_codeword`]), for reports: lower than the
/// conjectured level and not subject to the floor (docs/soundness.md, "Commitment").
pub fn provable_commitment_bits(
    config: &ProofConfig,
    circuit: &Circuit,
) -> Result<u32, VerifyError> {
    Ok(config
        .pcs
        .provable_security_bits(log_codeword(config, circuit)?))
}
