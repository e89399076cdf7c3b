//! Basefold-style multilinear polynomial commitment over STWO's circle-FFT Reed-Solomon code.
//!
//! **Commit**: the `2^n` hypercube evaluations are turned into multilinear monomial
//! coefficients (Moebius transform), placed on STWO's circle-FFT basis (`y, x, pi(x), ...`,
//! bit-reversed, so basis factor `i` carries variable `i`), evaluated with the SIMD circle FFT
//! on the canonic domain of size `2^(n + log_blowup)` (bit-reversed), and Merkle-committed
//! (Blake2s) with `2^fold_arity_log` consecutive codeword entries per leaf. **Open**: all
//! claims are first bound into one random combination; phase 1 (skipped for a single claim on
//! a single polynomial) is a batching sumcheck ending at one point `rho` (smaller polynomials
//! take the last variables) with the prover sending `f_j(rho_j)`; phase 2 draws `nu_j` and runs
//! one Basefold opening of `G = sum_j nu_j f_j` at `rho`: round `t` sends the sumcheck
//! polynomial of `eq(rho, b) G(b)`, draws `alpha_t` and folds the combined codeword with
//! `alpha_t` (circle fold for a codeword's first round, line folds after; a smaller codeword
//! joins, weighted `nu_j 2^t`, in the round where its size matches), committing every
//! `fold_arity_log`-th folded layer. The prover sends the final constant `c = G(alpha)`; the
//! verifier checks the sumcheck, `final claim = eq(rho, alpha) c`, the proof of work, and for
//! every query recomputes every fold from opened leaves (checking each against the next
//! committed layer) down to `2^n c`.
//!
//! Features: `prover` (default) builds the commitment and the opening prover on STWO's SIMD
//! backend; without it the crate holds the proof types and the verifier only.
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[cfg(feature = "prover")]
mod batch;
#[cfg(feature = "prover")]
mod batch_lazy;
#[cfg(feature = "prover")]
mod batch_tables;
#[cfg(feature = "prover")]
pub mod cache;
pub mod config;
#[cfg(feature = "prover")]
pub mod encode;
pub mod error;
pub mod fold;
#[cfg(feature = "prover")]
mod kernels;
pub mod proof;
#[cfg(feature = "prover")]
mod prover;
pub mod soundness;
pub mod verifier;

pub use config::PcsConfig;
#[cfg(feature = "prover")]
pub use encode::{commit, try_commit, CommittedPoly};
pub use error::PcsError;
pub use proof::{Claim, Decommitment, OpeningProof, PolyCommitment};
#[cfg(feature = "prover")]
pub use prover::prove_openings;
#[cfg(feature = "prover")]
pub use prover::{prove_openings_timed, PhaseTimes};
pub use stwo::core::channel::Blake2sChannel;
pub use verifier::verify_openings;

#[cfg(test)]
mod tests;
