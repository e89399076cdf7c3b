//! The verifying-key file (`prove-model setup --vk-out model.vk`): what a verifier needs and
//! nothing more, plus, for provers, how the key was made.
//!
//! Layout: magic `SMLVKEY1`, the key format version (`u32` little-endian), then the bincode
//! encoding (fixed-width little-endian integers) of [`KeyFile`]. The model's identity is
//! [`VerifyingKey::digest`]: the graph structure with every scale, the weight commitments and
//! the proof configuration; the setup record (the calibration inputs the scales were fixed on
//! and the settings) is carried for provers and is not part of it. Decoding is size-limited and
//! checks that the key derives a circuit (every shape bounded) at the security floor, so a
//! hostile key is refused before any proof is read.

use bincode::Options;
use model::Tensor;
use serde::{Deserialize, Serialize};

use crate::commitment::VerifyingKey;
use crate::error::{EncodeError, VerifyError};

/// Version of the key file format.
pub const KEY_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"SMLVKEY1";
/// Largest key file written or read (the calibration inputs dominate; a key is kilobytes).
pub const MAX_KEY_BYTES: u64 = 64 << 20;

/// How the key was made, for a prover to rebuild exactly its graph.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupRecord {
    /// The public input tensors the activation and norm scales were calibrated on (empty for a
    /// model without calibration).
    pub calibration: Vec<Tensor>,
    /// The settings that chose the graph, as `(name, value)` pairs in a fixed order (the
    /// command-line flags of the setup).
    pub settings: Vec<(String, String)>,
}

/// A verifying-key file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    pub format: String,
    pub version: u32,
    /// Every part of it is bound by [`VerifyingKey::digest`] (the model's name included).
    pub vk: VerifyingKey,
    pub setup: SetupRecord,
}

fn encoding() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
}

impl KeyFile {
    pub const FORMAT: &'static str = "stwo-ml-verifying-key";

    pub fn new(vk: VerifyingKey, setup: SetupRecord) -> Self {
        Self {
            format: Self::FORMAT.into(),
            version: KEY_VERSION,
            vk,
            setup,
        }
    }

    /// The model's name (part of its structure).
    pub fn model_name(&self) -> &str {
        &self.vk.shape.name
    }

    /// The model's parameters: the entries of its weights.
    pub fn n_params(&self) -> u64 {
        (self.vk.shape.weights.iter())
            .map(|(s, _)| s.rows as u64 * s.cols as u64)
            .sum()
    }

    /// The model's identity, as hex.
    pub fn digest_hex(&self) -> String {
        self.vk.digest_hex()
    }

    /// The binary encoding; refused beyond [`MAX_KEY_BYTES`].
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let body = encoding()
            .serialized_size(self)
            .map_err(|e| EncodeError::Serialize(e.to_string()))?;
        let total = body.saturating_add(MAGIC.len() as u64 + 4);
        if total > MAX_KEY_BYTES {
            return Err(EncodeError::TooLarge {
                bytes: total,
                limit: MAX_KEY_BYTES,
            });
        }
        let mut out = Vec::with_capacity(total as usize);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&KEY_VERSION.to_le_bytes());
        encoding()
            .serialize_into(&mut out, self)
            .map_err(|e| EncodeError::Serialize(e.to_string()))?;
        Ok(out)
    }

    /// Decodes and checks a key file: magic, version, size, exactly one encoding with no
    /// trailing bytes, a circuit derivable from the key's structure, the security floor.
    pub fn decode(bytes: &[u8]) -> Result<Self, VerifyError> {
        let bad = |s: &str| VerifyError::Decode(format!("verifying key: {s}"));
        if bytes.len() as u64 > MAX_KEY_BYTES {
            return Err(VerifyError::ProofTooLarge {
                bytes: bytes.len() as u64,
                limit: MAX_KEY_BYTES,
            });
        }
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| bad("not a verifying-key file (bad magic)"))?;
        let (ver, body) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("truncated header"))?;
        let ver = u32::from_le_bytes(*ver);
        if ver != KEY_VERSION {
            return Err(bad(&format!(
                "key format version {ver}, this build reads {KEY_VERSION}"
            )));
        }
        let file: Self = encoding()
            .with_limit(MAX_KEY_BYTES)
            .reject_trailing_bytes()
            .deserialize(body)
            .map_err(|e| bad(&e.to_string()))?;
        if file.format != Self::FORMAT || file.version != KEY_VERSION {
            return Err(bad("wrong format tag or version"));
        }
        let circuit = file.vk.circuit()?;
        file.vk
            .config
            .pcs
            .validate()
            .map_err(VerifyError::Opening)?;
        crate::config::check_security(&file.vk.config, &circuit)?;
        file.vk.weight_chunks(&circuit)?;
        Ok(file)
    }
}
