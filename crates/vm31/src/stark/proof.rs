//! The serialisable proof and its canonical byte encoding.
//!
//! Encoding: bincode (fixed-width little-endian integers, `u64` lengths) of STWO's
//! [`StarkProof`]. Decoding accepts exactly the bytes [`TxProof::to_bytes`] produces: trailing
//! bytes, field elements `>= p` and any encoding that does not re-encode to the same bytes are
//! refused.

use bincode::Options;
use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::{M31, P};
use stwo::core::fields::qm31::SecureField;
use stwo::core::proof::StarkProof;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleHasher;

use super::error::ProofError;

/// Largest proof we decode, in bytes.
pub const MAX_PROOF_BYTES: u64 = 1 << 22;

/// A transaction STARK.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TxProof {
    pub stark: StarkProof<Blake2sMerkleHasher>,
}

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
        .with_limit(MAX_PROOF_BYTES)
}

impl TxProof {
    /// The canonical encoding.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ProofError> {
        options().serialize(self).map_err(|e| ProofError::Decode {
            what: e.to_string(),
        })
    }

    /// Decodes [`to_bytes`](Self::to_bytes) output, refusing anything else.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofError> {
        let proof: Self = options()
            .deserialize(bytes)
            .map_err(|e| ProofError::Decode {
                what: e.to_string(),
            })?;
        proof.check_canonical_fields()?;
        if proof.to_bytes()? != bytes {
            return Err(ProofError::Decode {
                what: "not the canonical encoding".into(),
            });
        }
        Ok(proof)
    }

    /// Every field element in the proof is `< p`.
    fn check_canonical_fields(&self) -> Result<(), ProofError> {
        let p = &self.stark.0;
        let secure = |x: &SecureField| x.to_m31_array().iter().all(canonical);
        let ok = p.sampled_values.iter().flatten().flatten().all(secure)
            && p.queried_values.iter().flatten().flatten().all(canonical)
            && std::iter::once(&p.fri_proof.first_layer)
                .chain(&p.fri_proof.inner_layers)
                .flat_map(|layer| &layer.fri_witness)
                .all(secure)
            && p.fri_proof.last_layer_poly.iter().all(secure);
        if ok {
            Ok(())
        } else {
            Err(ProofError::Decode {
                what: "field element not below p".into(),
            })
        }
    }
}

fn canonical(x: &M31) -> bool {
    x.0 < P
}
