//! The proof system's security parameters, fixed here and nowhere else.
//!
//! Conjectured soundness of a STWO proof is `pow_bits + log_blowup_factor · n_queries` bits
//! ([`PcsConfig::security_bits`]); STWO's `PcsConfig::default()` gives 13. We use 16 bits of
//! grinding and 16 queries on a blowup-32 code: `16 + 5·16 = 96` bits. The large blowup buys
//! few queries, and the proof is mostly queried trace values (one per column per query). By the
//! Johnson bound each query is provably worth `log2(1/√ρ) = 2.5` bits: 56 bits provable.
//!
//! The configuration is not a parameter of the prove and verify functions: a proof is made and
//! checked under [`pcs_config`] only, and a proof that carries another configuration is refused.

use stwo::core::fri::FriConfig;
use stwo::core::pcs::PcsConfig;

/// The least conjectured security, in bits, that [`pcs_config`] must reach.
pub const MIN_SECURITY_BITS: u32 = 96;
/// Grinding bits before the FRI queries are drawn.
pub const POW_BITS: u32 = 16;
/// `log2` of the Reed–Solomon blowup.
pub const LOG_BLOWUP_FACTOR: u32 = 5;
/// FRI queries.
pub const N_QUERIES: usize = 16;
/// `log2` of the degree bound of FRI's last layer: 32 coefficients sent in the clear instead of
/// five more folded layers with their Merkle paths (traces have at least `2^8` rows).
pub const LOG_LAST_LAYER_DEGREE_BOUND: u32 = 5;
/// FRI folds `2^FOLD_STEP` points at a time: fewer layers, fewer authentication paths.
pub const FOLD_STEP: u32 = 3;

/// The one configuration every transaction proof uses.
pub fn pcs_config() -> PcsConfig {
    PcsConfig {
        pow_bits: POW_BITS,
        fri_config: FriConfig::new(
            LOG_LAST_LAYER_DEGREE_BOUND,
            LOG_BLOWUP_FACTOR,
            N_QUERIES,
            FOLD_STEP,
        ),
        lifting_log_size: None,
    }
}

/// Conjectured security of [`pcs_config`] in bits .
pub fn security_bits() -> u32 {
    pcs_config().security_bits()
}

/// Base-field linear functionals of one trace column that a proof can reveal (crate README):
/// 4 per out-of-domain point (the point and one row back), and per query the column at up to 4
/// points of the evaluation domain (the query point and the partner that fixes the two
/// composition halves there, each on the row and one row back).
pub const fn opened_functionals_per_column() -> usize {
    2 * 4 + 4 * N_QUERIES
}

/// Padding rows a trace gets beyond its real rows: `3k + 4` for `k` opened functionals per
/// column, so that each product column, a product with a fresh factor, opens to values that are
/// uniform except with probability about `p^-4` (crate README).
pub const fn min_padding_rows() -> usize {
    3 * opened_functionals_per_column() + 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_level_is_at_least_96_bits() {
        assert!(
            security_bits() >= MIN_SECURITY_BITS,
            "configured security {} < {MIN_SECURITY_BITS} bits",
            security_bits()
        );
        assert_eq!(security_bits(), 96);
    }

    #[test]
    fn smallest_trace_folds_to_the_last_layer() {
        let empty = super::super::Schedule {
            rows: Vec::new(),
            n_outputs: 0,
            n_node_outputs: 0,
        };
        let log_size = empty.log_size().unwrap();
        assert!(log_size >= LOG_LAST_LAYER_DEGREE_BOUND + FOLD_STEP);
    }

    #[test]
    fn default_config_is_not_used() {
        assert_ne!(pcs_config(), PcsConfig::default());
        assert!(PcsConfig::default().security_bits() < MIN_SECURITY_BITS);
    }
}
