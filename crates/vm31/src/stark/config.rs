//! The proof system's security parameters, fixed here and nowhere else.
//!
//! Conjectured soundness of a STWO proof is `pow_bits + log_blowup_factor · n_queries` bits
//! ([`PcsConfig::security_bits`]); STWO's `PcsConfig::default()` gives 13. We use 20 bits of
//! grinding and 16 queries on a blowup-32 code: `20 + 5·16 = 100` bits. (A 17th query would
//! raise the padding rule of [`min_padding_rows`] past the 256-row withdraw trace and double it;
//! four more grinding bits cost the prover about a million hashes, a few milliseconds.) The large blowup buys
//! few queries, and the proof is mostly queried trace values (one per column per query). By the
//! Johnson bound each query is provably worth `log2(1/√ρ) = 2.5` bits: 60 bits provable with the
//! grinding.
//!
//! The configuration is not a parameter of the prove and verify functions: a proof is made and
//! checked under [`pcs_config`] only, and a proof that carries another configuration is refused.

use stwo::core::fri::FriConfig;
use stwo::core::pcs::PcsConfig;

use super::air::N_MASK_COLUMNS;
use super::error::ProofError;

/// The least conjectured security, in bits, that [`pcs_config`] must reach.
pub const MIN_SECURITY_BITS: u32 = 100;
/// Grinding bits before the FRI queries are drawn.
pub const POW_BITS: u32 = 20;
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

/// Values of the DEEP quotient that FRI opens for a `2^log_size`-row trace: per query one coset
/// of `2^FOLD_STEP` values in the first layer and `2^step` in each inner layer, and the
/// `2^LOG_LAST_LAYER_DEGREE_BOUND` coefficients of the last layer (STWO 2.3.0 `core/fri.rs`:
/// the first layer folds `FOLD_STEP` times, inner layers fold `FOLD_STEP` at a time and the
/// last inner one what is left to reach the last layer's degree).
pub const fn fri_opened_values(log_size: u32, n_queries: usize) -> usize {
    let mut opened = (1 << FOLD_STEP) * n_queries + (1 << LOG_LAST_LAYER_DEGREE_BOUND);
    let mut degree = log_size.saturating_sub(FOLD_STEP);
    while degree > LOG_LAST_LAYER_DEGREE_BOUND {
        let step = if degree - LOG_LAST_LAYER_DEGREE_BOUND < FOLD_STEP {
            degree - LOG_LAST_LAYER_DEGREE_BOUND
        } else {
            FOLD_STEP
        };
        opened += (1 << step) * n_queries;
        degree -= step;
    }
    opened
}

/// The mask columns hide the DEEP quotient only while their degrees of freedom
/// (`N_MASK_COLUMNS · 2^log_size` base-field values) exceed what a proof reveals about them:
/// their own openings ([`opened_functionals_per_column`] each) and 4 base-field coordinates per
/// opened FRI value ([`fri_opened_values`]). Prover and verifier refuse a trace where they do
/// not (crate README, "Zero knowledge").
pub fn mask_capacity(log_size: u32, n_queries: usize) -> Result<(), ProofError> {
    let per_column = 2 * 4 + 4 * n_queries;
    let needed = 4 * fri_opened_values(log_size, n_queries) + N_MASK_COLUMNS * per_column;
    let available = N_MASK_COLUMNS << log_size;
    if needed > available {
        return Err(ProofError::InsufficientMasking {
            log_size,
            needed,
            available,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_level_is_at_least_100_bits() {
        assert!(
            security_bits() >= MIN_SECURITY_BITS,
            "configured security {} < {MIN_SECURITY_BITS} bits",
            security_bits()
        );
        assert_eq!(security_bits(), 100);
    }

    #[test]
    fn fri_openings_follow_the_layers() {
        // 256 rows: first layer only (5 = last-layer bound after one 3-fold).
        assert_eq!(fri_opened_values(8, 16), 8 * 16 + 32);
        // 512 rows: one inner layer folding once.
        assert_eq!(fri_opened_values(9, 16), 8 * 16 + 2 * 16 + 32);
        // 2^12 rows: inner folds 3 then 1.
        assert_eq!(fri_opened_values(12, 1), 8 + 8 + 2 + 32);
    }

    #[test]
    fn mask_capacity_holds_for_the_configuration_and_fails_beyond() {
        for log_size in 8..=12 {
            mask_capacity(log_size, N_QUERIES).unwrap();
        }
        // At 256 rows the four mask columns run out at 19 queries (48·Q + 160 > 1024).
        let first_failure = (1..=64).find(|&q| mask_capacity(8, q).is_err());
        assert_eq!(first_failure, Some(19));
        assert!(matches!(
            mask_capacity(8, 64),
            Err(ProofError::InsufficientMasking { .. })
        ));
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
