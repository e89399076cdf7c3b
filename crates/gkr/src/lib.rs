//! GKR layer reductions. Each reduction turns a claim `T(r) = v` about the multilinear
//! extension of a layer's output table into claims about its inputs, with a sumcheck where the
//! relation is not linear:
//!
//! - [`matmul`]: `C = A . W` — one sumcheck over the inner dimension (`log k` rounds, degree
//!   2; block-diagonal over stacked blocks with `log2 N` more rounds of degree 3);
//! - [`elementwise`]: `Add` and broadcast `AddBias` (linear, one prover value each) and `Mul`
//!   (degree-3 sumcheck against `eq(r, .)`);
//! - [`linear`]: row sums, constant scales and offsets, column / row slices, concatenations,
//!   column broadcasts and RoPE's half rotation (relabellings or one small sumcheck);
//! - [`claim`]: several claims on one table batched into one (degree-2 sumcheck);
//! - [`lookup`]: LogUp lookups (range checks and `(x, relu(x))` pairs) proved with batched GKR
//!   for fractional sums ([`logup_gkr`]: STWO's prover, our verifier with STWO's transcript);
//!   tables are rebuilt by the verifier in `O(log)`;
//! - [`softmax`]: row max, exp and division steps of a (causal) softmax, and the zero-check
//!   that a table vanishes off a mask;
//! - [`embedding`]: the public one-hot matrix of token ids for an embedding matmul;
//! - [`gather`]: rows gathered through a public sparse map (im2col, window sums), the map's
//!   multilinear extension evaluated by the verifier.
//!
//! Prover and verifier of each reduction sit side by side; the verifier functions use only
//! STWO's verifier-side types and [`sumcheck::verify`], and the provers sit behind the
//! `prover` feature (default), so the crate builds verifier-only without it. Fiat–Shamir goes
//! through STWO's `Blake2sChannel`: every value a prover sends is mixed into the channel
//! before the next challenge is drawn.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod claim;
pub mod elementwise;
pub mod embedding;
pub mod error;
pub mod gather;
pub mod linear;
pub mod logup_gkr;
pub mod lookup;
mod lookup_instances;
#[cfg(feature = "prover")]
mod lookup_layers;
#[cfg(feature = "prover")]
mod lookup_witness;
pub mod matmul;
pub mod softmax;
mod table;

pub use claim::Claim;
pub use error::GkrError;
pub use lookup::TableKind;
pub use stwo::core::channel::Blake2sChannel as Channel;
