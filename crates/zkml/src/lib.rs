//! Verifiable inference: proves that `output = model(input)` for a committed model.
//!
//! Protocol (one Fiat–Shamir transcript, STWO's Blake2s channel):
//! 1. The transcript absorbs the model digest (circuit description, weight commitment, proof
//!    configuration), the public input and the public output.
//! 2. The prover commits to the *advice*: every value it chooses rather than computes — the
//!    outputs of `Rescale` and `Relu` nodes and the lookup multiplicities — packed into one
//!    multilinear polynomial under the Basefold commitment of the `pcs` crate.
//! 3. LogUp lookups (STWO's GKR) prove every `Relu` pair `(x, y)` is in the ReLU table, every
//!    `Rescale` output is in the activation range and every remainder `x - 2^s y` is in
//!    `[-2^(s-1), 2^(s-1))`. Their claims land on advice (opened later) and on the inputs of the
//!    non-linear nodes.
//! 4. From a random point of the output, the claims travel backwards through the linear layers
//!    (matmul sumcheck, add, bias, mul), batched per node when several meet.
//! 5. Claims reaching the input or the public output are evaluated by the verifier; claims on
//!    weights and advice are proved by one batched Basefold opening.
//!
//! Modules: [`layers`] (the layer catalogue: each op family's columns, prover step and
//! verifier step, and the claim router), [`circuit`] (what prover and verifier both derive
//! from a graph), [`views`] (weight views and their claims), [`packing`], [`commitment`]
//! (model commitment, verifying key), [`key_file`] (the verifying-key file), [`prover`] and [`verifier`] (the walks), [`chain`]
//! (binding a batched stack's blocks in sequence), [`proof`] (format), [`config`], [`error`].
//!
//! Features: `prover` (default) builds [`prover`], the layers' prover steps and
//! [`CommittedModel`]; without it the crate verifies only and STWO's prover is not compiled.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod chain;
pub mod circuit;
pub mod commitment;
pub mod config;
pub mod error;
pub mod key_file;
pub mod layers;
pub mod packing;
pub mod proof;
#[cfg(feature = "prover")]
pub mod prover;
pub mod tiles;
pub mod transcript;
pub mod verifier;
pub mod views;

pub use commitment::VerifyingKey;
#[cfg(feature = "prover")]
pub use commitment::{CacheStatus, CommittedModel};
pub use config::ProofConfig;
pub use error::{EncodeError, ProveError, VerifyError};
pub use key_file::{KeyFile, SetupRecord};
pub use proof::{ModelProof, ProofFormat};
#[cfg(feature = "prover")]
pub use prover::{prove, prove_all, prove_executed};
pub use verifier::{verify, verify_all, verify_outputs};
