//! Which row does what: the statement's row schedule and the preprocessed columns built from it.
//!
//! A schedule depends only on the statement type, never on a witness or a public value, so the
//! preprocessed columns (and their commitment, a constant per statement type) are fixed
//! before any proof exists.

use stwo::core::fields::m31::M31;
#[cfg(feature = "prover")]
use stwo::{
    core::fields::m31::BaseField,
    core::poly::circle::CanonicCoset,
    core::utils::{bit_reverse_index, coset_index_to_circle_domain_index},
    prover::backend::simd::{column::BaseColumn, SimdBackend},
    prover::poly::{circle::CircleEvaluation, BitReversedOrder},
};

use stwo_constraint_framework::preprocessed_columns::PreProcessedColumnId;

use super::config::{mask_capacity, min_padding_rows, N_QUERIES};
use super::error::ProofError;
use super::value::VALUE_PREPROCESSED;
use crate::sponge::Domain;

/// Smallest trace: STWO's SIMD backend wants at least 16 rows per column.
pub const MIN_LOG_SIZE: u32 = 4;
/// Largest trace we build.
pub const MAX_LOG_SIZE: u32 = 16;

/// What one real row is tied to. Every flag is a preprocessed column of the same name (see
/// [`preprocessed_column_ids`] and [`super::air`] for the constraint each one switches on).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowKind {
    /// The row starts a sponge: capacity `[domain, len mod 2^30, len >> 30, 0, …]`.
    pub iv: Option<(Domain, u64)>,
    /// The row continues the previous row's sponge (same capacity).
    pub cont: bool,
    /// The row absorbs the public values [`super::air::PublicConstants::absorb`] in rate `0..4`.
    pub absorb_public: bool,
    /// The rate equals the previous row's input rate (hash the same secret again).
    pub rate_from_prev_in: bool,
    /// The rate equals the previous row's output rate (hash the previous digest).
    pub rate_from_prev_out: bool,
    /// The register takes this row's permutation output.
    pub load_reg: bool,
    /// The register keeps the previous row's value.
    pub keep_reg: bool,
    /// The input is the register plus the previous row's output rate (resume a sponge saved in
    /// the register, absorbing the previous digest).
    pub from_reg: bool,
    /// First Merkle level: the current node is `prev_in − prev_reg` (the digest absorbed by a
    /// `from_reg` row), placed left or right by the row's index bit.
    pub merkle_first: bool,
    /// Later Merkle level: the current node is the previous row's compression output.
    pub merkle_next: bool,
    /// The row's output rate is public digest number `k`.
    pub output: Option<usize>,
    /// The row's compression output (output rate plus input left half) is public node `k`.
    pub node_output: Option<usize>,
    /// The row absorbs a note's `asset ‖ limbs ‖ blinding` block (see [`super::value`]).
    pub value: Option<ValueRole>,
    /// The running balance and the asset keep the previous row's values.
    pub keep_balance: bool,
    /// The row checks the balance against the fee.
    pub balance_final: bool,
    /// The row belongs to an input segment (its dummy flag is boolean there, zero elsewhere).
    pub input_seg: bool,
    /// The dummy flag stays that of the previous row (segment rows after the first; the asset is
    /// kept by `keep_balance`).
    pub input_keep: bool,
    /// Merkle level `l` of the row: on later levels the position accumulates `2^l · bit` (see
    /// [`super::segment`]).
    pub merkle_level: Option<u32>,
    /// The register takes the previous row's output (the nullifier sponge after the commitment).
    pub load_reg_prev: bool,
    /// The input is the register plus the leaf position in rate element 0 (the nullifier's last
    /// block).
    pub absorb_pos: bool,
}

/// How a value row enters the running balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueRole {
    /// The first note read: starts the balance.
    First,
    /// A note read later: added.
    In,
    /// A note written: subtracted.
    Out,
}

/// The rows of a statement, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub rows: Vec<RowKind>,
    pub n_outputs: usize,
    pub n_node_outputs: usize,
}

/// Preprocessed columns of the glue, in commitment order; the value selectors
/// ([`VALUE_PREPROCESSED`]) and then the per-output selectors follow.
pub const FIXED_PREPROCESSED: [&str; 14] = [
    "vm31_is_real",
    "vm31_is_iv",
    "vm31_iv_tag",
    "vm31_iv_len",
    "vm31_cont",
    "vm31_absorb_public",
    "vm31_rate_from_prev_in",
    "vm31_rate_from_prev_out",
    "vm31_load_reg",
    "vm31_keep_reg",
    "vm31_from_reg",
    "vm31_merkle_first",
    "vm31_merkle_next",
    "vm31_merkle_any",
];

/// Preprocessed columns of the input segments ([`super::segment`]), after the value selectors.
pub const SEGMENT_PREPROCESSED: [&str; 5] = [
    "vm31_input_seg",
    "vm31_input_keep",
    "vm31_merkle_weight",
    "vm31_load_reg_prev",
    "vm31_absorb_pos",
];

/// Names of the preprocessed columns, in commitment order.
pub fn preprocessed_column_ids(
    n_outputs: usize,
    n_node_outputs: usize,
) -> Vec<PreProcessedColumnId> {
    FIXED_PREPROCESSED
        .iter()
        .chain(&VALUE_PREPROCESSED)
        .chain(&SEGMENT_PREPROCESSED)
        .map(|s| s.to_string())
        .chain((0..n_outputs).map(|k| format!("vm31_output_{k}")))
        .chain((0..n_node_outputs).map(|k| format!("vm31_node_output_{k}")))
        .map(|id| PreProcessedColumnId { id })
        .collect()
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
        mask_capacity(log_size, N_QUERIES)?;
        Ok(log_size)
    }

    /// The preprocessed columns, in the order of [`preprocessed_column_ids`].
    pub fn preprocessed_columns(&self, log_size: u32) -> Vec<Vec<M31>> {
        let n = 1usize << log_size;
        let n_fixed =
            FIXED_PREPROCESSED.len() + VALUE_PREPROCESSED.len() + SEGMENT_PREPROCESSED.len();
        let mut cols = vec![vec![M31(0); n]; n_fixed + self.n_outputs + self.n_node_outputs];
        let flag = |b: bool| M31(u32::from(b));
        for (i, row) in self.rows.iter().enumerate() {
            cols[0][i] = M31(1);
            if let Some((domain, len)) = row.iv {
                cols[1][i] = M31(1);
                cols[2][i] = domain.tag();
                cols[3][i] = M31((len & ((1 << 30) - 1)) as u32);
            }
            let flags = [
                row.cont,
                row.absorb_public,
                row.rate_from_prev_in,
                row.rate_from_prev_out,
                row.load_reg,
                row.keep_reg,
                row.from_reg,
                row.merkle_first,
                row.merkle_next,
                row.merkle_first || row.merkle_next,
                row.value == Some(ValueRole::First),
                row.value == Some(ValueRole::In),
                row.value == Some(ValueRole::Out),
                row.keep_balance,
                row.balance_final,
                row.input_seg,
                row.input_keep,
            ];
            let n_flags = flags.len();
            for (col, f) in cols[4..4 + n_flags].iter_mut().zip(flags) {
                col[i] = flag(f);
            }
            let segment = 4 + n_flags;
            cols[segment][i] = match row.merkle_level {
                Some(level) if row.merkle_next => M31(1 << level),
                _ => M31(0),
            };
            cols[segment + 1][i] = flag(row.load_reg_prev);
            cols[segment + 2][i] = flag(row.absorb_pos);
            if let Some(k) = row.output {
                cols[n_fixed + k][i] = M31(1);
            }
            if let Some(k) = row.node_output {
                cols[n_fixed + self.n_outputs + k][i] = M31(1);
            }
        }
        cols
    }
}

/// Lays out columns given in row order as circle evaluations (bit-reversed circle-domain order,
/// so that "previous row" is the previous point of the trace coset).
#[cfg(feature = "prover")]
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
