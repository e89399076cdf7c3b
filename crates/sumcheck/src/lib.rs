//! Bottom layer of the stwo-ml proving stack: multilinear extensions (MLEs) over M31 with
//! challenges in QM31, the `eq` kernel, canonical (validated) serialisation of field elements,
//! and the sumcheck protocol.
//!
//! Conventions used throughout the workspace:
//! - A table of `2^n` values is the evaluation of an MLE on `{0,1}^n`. The **first** variable of
//!   a point is the **most significant** bit of the table index (STWO's `Mle` convention), so a
//!   row-major `rows x cols` matrix has point `(r_row || r_col)`.
//! - The prover drives STWO's oracle interface (`prover::lookups::sumcheck`) with fast
//!   oracles; proof types and the verifier are this crate's own, with STWO's transcript: the
//!   verifier checks the number of rounds and the degree bound it expects, not the ones the
//!   proof claims, and accepts only canonical round polynomials (no trailing zero).
//!
//! Features: `prover` (default) enables STWO's prover and the modules that need it
//! ([`oracle`], [`base_round`], [`simd`]); without it the crate is verifier-only.
//!
//! Modules: [`mle`] (eq tables, evaluation, folding), [`felt`] (serde for field elements),
//! [`proof`] (serialisable round polynomials), [`oracle`] (product oracles), [`base_round`] (a
//! first round over base-field factors), [`verifier`].
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[cfg(feature = "prover")]
pub mod base_round;
pub mod felt;
pub mod mle;
#[cfg(feature = "prover")]
pub mod oracle;
pub mod proof;
#[cfg(feature = "prover")]
pub mod simd;
pub mod verifier;

pub use mle::{eq_eval, eq_evals, eval_mle, eval_mle_base, fold_in_place};
pub use proof::{RoundPoly, SumcheckProof};
pub use stwo::core::fields::m31::M31;
pub use stwo::core::fields::qm31::QM31;
pub use verifier::{verify, SumcheckError};
