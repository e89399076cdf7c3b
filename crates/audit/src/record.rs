//! What an entry's `input` and `output` bytes hold when the log records a model's inference:
//! the request and the exact public tensors a proof of it carries, as JSON. A proof is matched
//! to its entry by these tensors, without the model.

use model::Tensor;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::seal::{open, seal, RecipientKey, RecipientSecret, SealError, Sealed};

/// What a sealed input record's bytes are (authenticated with the ciphertext).
pub const INPUT_CONTEXT: &[u8] = b"stwo-ml/audit/input";
/// What a sealed output record's bytes are.
pub const OUTPUT_CONTEXT: &[u8] = b"stwo-ml/audit/output";
/// What a sealed proof file's bytes are.
pub const PROOF_CONTEXT: &[u8] = b"stwo-ml/audit/proof";

/// SHA-256 of a list of tensors (a domain tag, then their JSON): what a sealed record keeps in
/// clear, and what a proof's public inputs or outputs are matched by.
pub fn tensors_hash(tensors: &[Tensor]) -> String {
    let mut h = Sha256::new();
    h.update(b"stwo-ml/audit/tensors/v1");
    h.update(serde_json::to_vec(tensors).unwrap_or_default());
    hex::encode(h.finalize())
}

/// A record sealed for a recipient, with its tensors' hash in clear.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedRecord {
    pub sealed: Sealed,
    pub tensors_sha256: String,
}

/// A logged input or output: in clear, or sealed.
#[derive(Clone, Debug, PartialEq)]
pub enum Logged<T> {
    Clear(T),
    Sealed(SealedRecord),
}

/// A record with public tensors.
pub trait Record: Serialize + DeserializeOwned {
    /// The label sealed with it.
    const CONTEXT: &'static [u8];
    fn tensors(&self) -> &[Tensor];

    /// The record sealed for `to`.
    fn seal(&self, to: &RecipientKey) -> Result<SealedRecord, SealError> {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        Ok(SealedRecord {
            sealed: seal(to, Self::CONTEXT, &bytes)?,
            tensors_sha256: tensors_hash(self.tensors()),
        })
    }
}

impl<T: Record> Logged<T> {
    /// Parses an entry's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        match serde_json::from_slice::<SealedRecord>(bytes) {
            Ok(s) => Ok(Logged::Sealed(s)),
            Err(_) => serde_json::from_slice(bytes).map(Logged::Clear),
        }
    }

    /// The hash of the record's tensors.
    pub fn tensors_hash(&self) -> String {
        match self {
            Logged::Clear(r) => tensors_hash(r.tensors()),
            Logged::Sealed(s) => s.tensors_sha256.clone(),
        }
    }

    /// The record in clear: opened with `key` when sealed (whose clear hash must match).
    pub fn open(self, key: Option<&RecipientSecret>) -> Result<T, String> {
        let s = match self {
            Logged::Clear(r) => return Ok(r),
            Logged::Sealed(s) => s,
        };
        let key = key.ok_or("sealed for a recipient: give the recipient's key")?;
        let bytes = open(key, T::CONTEXT, &s.sealed).map_err(|e| e.to_string())?;
        let r: T = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if tensors_hash(r.tensors()) != s.tensors_sha256 {
            return Err("the sealed record does not match its clear tensors hash".into());
        }
        Ok(r)
    }
}

impl Record for InferenceInput {
    const CONTEXT: &'static [u8] = INPUT_CONTEXT;
    fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }
}

impl Record for InferenceOutput {
    const CONTEXT: &'static [u8] = OUTPUT_CONTEXT;
    fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }
}

/// The input side of one inference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InferenceInput {
    /// The request's input, as the client sent it.
    pub request: Value,
    /// The quantised input tensors, one per model input, in proof order.
    pub tensors: Vec<Tensor>,
}

/// The public outputs of one inference, in proof order (the main output first), with the
/// number of fractional bits of each (`value / 2^scale_bits` is the real number).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InferenceOutput {
    pub tensors: Vec<Tensor>,
    pub scale_bits: Vec<u32>,
}

impl InferenceInput {
    /// The bytes an entry stores.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct of tensors and a JSON value always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(b)
    }
}

impl InferenceOutput {
    /// The bytes an entry stores.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(b)
    }

    /// The index of the largest value of the main output's first row (a classifier's class,
    /// a decoder's next token at its first position); ties go to the lowest index.
    pub fn argmax(&self) -> Option<usize> {
        let t = self.tensors.first()?;
        let row = &t.data[..t.shape.cols.min(t.data.len())];
        row.iter()
            .enumerate()
            .max_by_key(|(i, v)| (**v, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
    }

    /// The outputs as real numbers.
    pub fn reals(&self) -> Vec<Vec<f64>> {
        self.tensors
            .iter()
            .zip(&self.scale_bits)
            .map(|(t, &s)| {
                let scale = 2f64.powi(s as i32);
                t.data.iter().map(|&v| v as f64 / scale).collect()
            })
            .collect()
    }
}
