//! The serialisable proof and its canonical byte encoding.
//!
//! Encoding (format version [`PROOF_VERSION`]): a 7-byte header `"vm31" ‖ u16 LE version ‖ u8
//! statement kind`, then bincode (fixed-width little-endian integers, `u64` lengths) of STWO's
//! [`StarkProof`]. Decoding reads the header first and refuses another version or an unknown
//! kind before touching the body; it accepts exactly the bytes [`TxProof::to_bytes`] produces:
//! trailing bytes, field elements `>= p` and any encoding that does not re-encode to the same
//! bytes are refused. The version is also absorbed by the transcript, so a proof cannot be
//! relabelled.

use bincode::Options;
use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::{M31, P};
use stwo::core::fields::qm31::SecureField;
use stwo::core::proof::StarkProof;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleHasher;

use super::error::ProofError;

/// Largest proof we decode, in bytes (proofs are about 130 KB).
pub const MAX_PROOF_BYTES: u64 = 1 << 20;
/// The proof format and protocol revision: bytes, transcript and statements.
pub const PROOF_VERSION: u16 = 2;
/// First bytes of every encoded proof.
pub const PROOF_MAGIC: [u8; 4] = *b"vm31";
/// Header length: magic, version, kind.
pub const HEADER_LEN: usize = 7;

/// A transaction STARK for one statement kind ([`crate::tx::kind`]).
#[derive(Clone, Debug)]
pub struct TxProof {
    /// The statement kind the proof was made for; the verifier refuses another.
    pub kind: u8,
    pub stark: StarkProof<Blake2sMerkleHasher>,
}

/// The body as bincode sees it (borrowed for encoding).
#[derive(Serialize)]
struct BodyRef<'a> {
    stark: &'a StarkProof<Blake2sMerkleHasher>,
}

#[derive(Deserialize)]
struct Body {
    stark: StarkProof<Blake2sMerkleHasher>,
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
        let body = options()
            .serialize(&BodyRef { stark: &self.stark })
            .map_err(|e| ProofError::Decode {
                what: e.to_string(),
            })?;
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(&PROOF_MAGIC);
        out.extend_from_slice(&PROOF_VERSION.to_le_bytes());
        out.push(self.kind);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// The statement kind named by an encoded proof's header, after checking magic and version.
    pub fn peek_kind(bytes: &[u8]) -> Result<u8, ProofError> {
        if bytes.len() < HEADER_LEN || bytes[..4] != PROOF_MAGIC {
            return Err(ProofError::Decode {
                what: "missing the \"vm31\" proof header".into(),
            });
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != PROOF_VERSION {
            return Err(ProofError::UnsupportedVersion {
                got: version,
                expected: PROOF_VERSION,
            });
        }
        Ok(bytes[6])
    }

    /// Decodes [`to_bytes`](Self::to_bytes) output, refusing anything else.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofError> {
        if bytes.len() as u64 > MAX_PROOF_BYTES {
            return Err(ProofError::Decode {
                what: format!("{} bytes, more than {MAX_PROOF_BYTES}", bytes.len()),
            });
        }
        let kind = Self::peek_kind(bytes)?;
        let body: Body =
            options()
                .deserialize(&bytes[HEADER_LEN..])
                .map_err(|e| ProofError::Decode {
                    what: e.to_string(),
                })?;
        let proof = Self {
            kind,
            stark: body.stark,
        };
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
