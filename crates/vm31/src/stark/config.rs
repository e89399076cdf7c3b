//! The proof system's security parameters, fixed here and nowhere else.
//!
//! Conjectured soundness of a STWO proof is `pow_bits + log_blowup_factor · n_queries` bits
//! ([`PcsConfig::security_bits`]); STWO's `PcsConfig::default()` gives 13. We use 16 bits of
//! grinding and 27 queries on a blowup-8 code: `16 + 3·27 = 97` bits.
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
pub const LOG_BLOWUP_FACTOR: u32 = 3;
/// FRI queries.
pub const N_QUERIES: usize = 27;
/// `log2` of the degree bound of FRI's last layer.
pub const LOG_LAST_LAYER_DEGREE_BOUND: u32 = 0;

/// The one configuration every transaction proof uses.
pub fn pcs_config() -> PcsConfig {
    PcsConfig {
        pow_bits: POW_BITS,
        fri_config: FriConfig::new(LOG_LAST_LAYER_DEGREE_BOUND, LOG_BLOWUP_FACTOR, N_QUERIES, 1),
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
        assert_eq!(security_bits(), 97);
    }

    #[test]
    fn default_config_is_not_used() {
        assert_ne!(pcs_config(), PcsConfig::default());
        assert!(PcsConfig::default().security_bits() < MIN_SECURITY_BITS);
    }
}
