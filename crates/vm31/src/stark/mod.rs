//! Transaction STARKs over STWO 2.3.0.
//!
//! A statement is an [`Instance`]: a statement type, its public inputs, a row [`Schedule`] (one
//! Poseidon2 permutation per row, see [`air`]) and the public values the constraints refer to.
//! The prover fills the rows with a witness and pads the trace with random rows; the verifier
//! rebuilds everything that is not witness — the constraint constants, the PCS configuration —
//! from the instance alone, and takes the preprocessed columns' commitment as a constant of
//! the statement type (recomputing it needs the prover; tests check the constants).
//!
//! Fiat–Shamir: the channel absorbs a protocol tag, the proof format version, the statement type
//! and every public input,
//! then the PCS configuration, before the first commitment; no challenge is drawn earlier.
//!
//! Modules: [`config`] (security parameters), [`air`] (permutation constraints), [`glue`]
//! (constraints between rows), [`value`] (asset, amount ranges and balance), [`schedule`]
//! (preprocessed columns), [`trace`] (witness rows and padding), [`prover`] (feature `prover`),
//! [`verifier`],
//! [`proof`] (canonical encoding), [`error`]. Zero knowledge is discussed in the crate README.

pub mod air;
pub mod config;
pub mod error;
pub mod glue;
pub mod proof;
#[cfg(feature = "prover")]
pub mod prover;
pub mod schedule;
pub mod segment;
pub mod trace;
pub mod value;
pub mod verifier;

use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::SecureField;
use stwo_constraint_framework::TraceLocationAllocator;

pub use air::{PublicConstants, TxComponent, TxEval};
pub use config::{pcs_config, security_bits, MIN_SECURITY_BITS};
pub use error::ProofError;
pub use proof::{TxProof, PROOF_VERSION};
#[cfg(feature = "prover")]
pub use prover::{preprocessed_root, prove_instance};
pub use schedule::{RowKind, Schedule, ValueRole};
pub use trace::RowWitness;
pub use value::ValueWitness;
pub use verifier::verify_instance;

/// First word absorbed by every transcript: `"vm31"`.
const PROTOCOL_TAG: u32 = u32::from_le_bytes(*b"vm31");

/// What prover and verifier agree on before a proof exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// The statement type (deposit, withdraw, spend, or a bare permutation check).
    pub kind: u32,
    /// Every public input, in a fixed order; all of them enter the transcript.
    pub public_inputs: Vec<M31>,
    pub schedule: Schedule,
    pub constants: PublicConstants,
}

impl Instance {
    /// The transcript after the public inputs and the PCS configuration.
    fn channel(&self) -> Blake2sChannel {
        let mut channel = Blake2sChannel::default();
        let len = self.public_inputs.len() as u32;
        let version = u32::from(proof::PROOF_VERSION);
        channel.mix_u32s(&[PROTOCOL_TAG, version, self.kind, len]);
        let words: Vec<u32> = self.public_inputs.iter().map(|x| x.0).collect();
        channel.mix_u32s(&words);
        pcs_config().mix_into(&mut channel);
        channel
    }

    fn component(&self, log_size: u32) -> TxComponent {
        let eval = TxEval {
            log_size,
            public: self.constants.clone(),
        };
        TxComponent::new(
            &mut TraceLocationAllocator::default(),
            eval,
            SecureField::from_u32_unchecked(0, 0, 0, 0),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests;
