//! The audit report of a proved window (`report.json` in a report folder, beside `proofs/` and
//! `report.html`): the window, the log's roots at both ends with the consistency proof, and per
//! entry the logged entry itself, its inclusion proof, the proof file and the verdict. The
//! report hash is SHA-256 over the canonical JSON of the report with `report_hash` empty.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Entry, Hash};

/// Report format version.
pub const REPORT_VERSION: u32 = 1;

/// A log size and its Merkle root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedSize {
    pub size: u64,
    #[serde(with = "hex_hash")]
    pub root: Hash,
}

/// The window the report covers: entries `from_seq .. to_seq` (and the times asked for).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from_seq: u64,
    pub to_seq: u64,
    /// RFC 3339, when the window was asked by time.
    pub from_time: Option<String>,
    pub to_time: Option<String>,
}

/// What became of one logged inference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Verdict {
    /// Replayed, the same output, proved.
    Proved,
    /// The model recomputed another output than the one served (no proof).
    OutputMismatch,
    /// Logged for another model than the key's (not proved here).
    OtherModel,
    /// The input could not be replayed or proved.
    Failed(String),
}

/// One entry of the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryReport {
    pub seq: u64,
    /// RFC 3339 (milliseconds).
    pub time: String,
    /// The logged entry's fields: with `seq` they rebuild the entry and its hash.
    pub timestamp_ms: i64,
    #[serde(with = "hex_hash")]
    pub model_digest: Hash,
    #[serde(with = "hex_hash")]
    pub prev_hash: Hash,
    /// The entry's input bytes (JSON text of an [`crate::InferenceInput`]).
    pub input: String,
    /// The entry's output bytes (JSON text of an [`crate::InferenceOutput`]).
    pub output: String,
    #[serde(with = "hex_hash")]
    pub entry_hash: Hash,
    #[serde(with = "hex_hash")]
    pub input_hash: Hash,
    #[serde(with = "hex_hash")]
    pub output_hash: Hash,
    /// The main output's argmax (a class, a next token), for the chart.
    pub argmax: Option<usize>,
    /// The inclusion proof of the entry in the log of the window's end size.
    #[serde(with = "hex_hashes")]
    pub inclusion: Vec<Hash>,
    /// The proof file, relative to the report folder.
    pub proof_file: Option<String>,
    pub verdict: Verdict,
    pub prove_ms: f64,
}

impl EntryReport {
    /// The logged entry these fields describe.
    pub fn entry(&self) -> Entry {
        Entry {
            seq: self.seq,
            timestamp_ms: self.timestamp_ms,
            model_digest: self.model_digest,
            input: self.input.as_bytes().to_vec(),
            output: self.output.as_bytes().to_vec(),
            prev_hash: self.prev_hash,
        }
    }
}

/// Totals.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub entries: u64,
    pub proved: u64,
    pub output_mismatch: u64,
    pub other_model: u64,
    pub failed: u64,
    pub prove_seconds: f64,
    pub wall_seconds: f64,
}

/// `report.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    pub version: u32,
    /// The key's digest: the model every proof is checked against.
    #[serde(with = "hex_hash")]
    pub model_digest: Hash,
    pub window: Window,
    /// The log at the window's start and end, and the consistency proof between them.
    pub start: SignedSize,
    pub end: SignedSize,
    #[serde(with = "hex_hashes")]
    pub consistency: Vec<Hash>,
    pub entries: Vec<EntryReport>,
    pub totals: Totals,
    /// When the report was made (RFC 3339).
    pub created: String,
    /// SHA-256 of this report's canonical JSON with this field empty.
    pub report_hash: String,
}

impl Report {
    /// The hash of the report's content (everything but `report_hash`).
    pub fn content_hash(&self) -> String {
        let mut r = self.clone();
        r.report_hash = String::new();
        // Serialising a report cannot fail: every map key is a string.
        let bytes = serde_json::to_vec(&r).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }

    /// Sets `report_hash`.
    pub fn seal(mut self) -> Self {
        self.report_hash = self.content_hash();
        self
    }
}

/// `[u8; 32]` as hex in JSON.
mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("expected 32 bytes of hex"))
    }
}

/// A list of hashes as hex strings.
mod hex_hashes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(hex::encode))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|t| {
                let b = hex::decode(t).map_err(serde::de::Error::custom)?;
                b.try_into()
                    .map_err(|_| serde::de::Error::custom("expected 32 bytes of hex"))
            })
            .collect()
    }
}

/// Everything a window's report needs from the log, read at once (so that proving, which is
/// long, does not hold the log).
#[derive(Clone, Debug)]
pub struct WindowData {
    pub entries: Vec<Entry>,
    /// Per entry, its inclusion proof in the log of size `end.size`.
    pub inclusion: Vec<Vec<Hash>>,
    pub start: SignedSize,
    pub end: SignedSize,
    pub consistency: Vec<Hash>,
}

impl WindowData {
    /// Reads entries `from .. to` of `log` with their proofs.
    pub fn collect(log: &crate::Log, from: u64, to: u64) -> Result<Self, crate::LogError> {
        let entries = log.entries(from..to)?;
        let inclusion = (from..to)
            .map(|seq| log.inclusion_proof(seq, to))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            entries,
            inclusion,
            start: SignedSize {
                size: from,
                root: log.root_at(from)?,
            },
            end: SignedSize {
                size: to,
                root: log.root_at(to)?,
            },
            consistency: log.consistency_proof(from, to)?,
        })
    }
}
