//! Which row does what: the statement's row schedule and the preprocessed columns built from it.
//!
//! A schedule depends only on the statement type, never on a witness or a public value, so the
//! verifier builds the preprocessed columns (and their commitment) itself.

use stwo::core::fields::m31::{BaseField, M31};
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::utils::{bit_reverse_index, coset_index_to_circle_domain_index};
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::poly::circle::CircleEvaluation;
use stwo::prover::poly::BitReversedOrder;

use super::config::min_padding_rows;
use super::error::ProofError;
use crate::sponge::Domain;

/// Smallest trace: STWO's SIMD backend wants at least 16 rows per column.
pub const MIN_LOG_SIZE: u32 = 4;
/// Largest trace we build.
pub const MAX_LOG_SIZE: u32 = 16;

/// What one real row is tied to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowKind {
    /// The row starts a sponge: capacity `[domain, len mod 2^30, len >> 30, 0, …]`.
    pub iv: Option<(Domain, u64)>,
    /// The row continues the previous row's sponge (same capacity).
    pub cont: bool,
    /// The row absorbs the public values [`super::air::PublicConstants::absorb`] in rate `0..4`.
    pub absorb_public: bool,
    /// The row's output rate is public digest number `k`.
    pub output: Option<usize>,
}

/// The rows of a statement, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub rows: Vec<RowKind>,
    pub n_outputs: usize,
}

impl Schedule {
    /// `log2` of the trace length: the real rows plus [`min_padding_rows`] random ones.
    pub fn log_size(&self) -> Result<u32, ProofError> {
        let needed = self.rows.len() + min_padding_rows();
        let log_size = needed
            .next_power_of_two()
            .trailing_zeros()
            .max(MIN_LOG_SIZE);
        if log_size > MAX_LOG_SIZE {
            return Err(ProofError::TraceTooLarge { rows: needed });
        }
        Ok(log_size)
    }

    /// The preprocessed columns, in the order of [`super::air::preprocessed_column_ids`].
    pub fn preprocessed_columns(&self, log_size: u32) -> Vec<Vec<M31>> {
        let n = 1usize << log_size;
        let mut cols = vec![vec![M31(0); n]; 5 + self.n_outputs];
        for (i, row) in self.rows.iter().enumerate() {
            if let Some((domain, len)) = row.iv {
                cols[0][i] = M31(1);
                cols[1][i] = domain.tag();
                cols[2][i] = M31((len & ((1 << 30) - 1)) as u32);
            }
            cols[3][i] = M31(u32::from(row.cont));
            cols[4][i] = M31(u32::from(row.absorb_public));
            if let Some(k) = row.output {
                cols[5 + k][i] = M31(1);
            }
        }
        cols
    }
}

/// Lays out columns given in row order as circle evaluations (bit-reversed circle-domain order,
/// so that "previous row" is the previous point of the trace coset).
pub fn to_evaluations(
    columns: Vec<Vec<M31>>,
    log_size: u32,
) -> Vec<CircleEvaluation<SimdBackend, BaseField, BitReversedOrder>> {
    let domain = CanonicCoset::new(log_size).circle_domain();
    columns
        .into_iter()
        .map(|col| {
            let mut ordered = vec![M31(0); col.len()];
            for (i, v) in col.into_iter().enumerate() {
                let pos =
                    bit_reverse_index(coset_index_to_circle_domain_index(i, log_size), log_size);
                ordered[pos] = v;
            }
            CircleEvaluation::new(domain, BaseColumn::from_iter(ordered))
        })
        .collect()
}
