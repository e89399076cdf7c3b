//! Log entries and their one canonical encoding.
//!
//! The same byte string is hashed (after a domain tag) into [`Entry::hash`] and stored as a
//! record body in the segment files, so the hash chain, the Merkle leaves and the on-disk
//! checksum are all computed by one writer, [`Entry::write_canonical`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Hash;

/// Domain tag hashed in front of an entry's canonical encoding.
const ENTRY_TAG: &[u8] = b"stwo-ml/audit/entry/v1";
/// Domain tag hashed in front of an entry's input bytes.
const INPUT_TAG: &[u8] = b"stwo-ml/audit/input/v1";
/// Domain tag hashed in front of an entry's output bytes.
const OUTPUT_TAG: &[u8] = b"stwo-ml/audit/output/v1";

/// Encoded size of the fixed-width fields: seq, timestamp, model digest, the two length
/// prefixes and prev_hash.
pub(crate) const FIXED_BODY_LEN: usize = 8 + 8 + 32 + 8 + 8 + 32;

/// What a caller logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryData {
    /// Milliseconds since the Unix epoch; never older than the previous entry's.
    pub timestamp_ms: i64,
    /// Digest identifying the model that ran.
    pub model_digest: Hash,
    /// Inference input bytes.
    pub input: Vec<u8>,
    /// Inference output bytes.
    pub output: Vec<u8>,
}

/// A logged entry: the caller's data plus its position and the hash chain link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the log, from 0.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Digest identifying the model that ran.
    pub model_digest: Hash,
    /// Inference input bytes.
    pub input: Vec<u8>,
    /// Inference output bytes.
    pub output: Vec<u8>,
    /// [`Entry::hash`] of the previous entry; all zeros for seq 0.
    pub prev_hash: Hash,
}

impl Entry {
    /// Builds the entry at `seq` that follows an entry hashing to `prev_hash`.
    pub(crate) fn from_data(seq: u64, prev_hash: Hash, data: EntryData) -> Self {
        Self {
            seq,
            timestamp_ms: data.timestamp_ms,
            model_digest: data.model_digest,
            input: data.input,
            output: data.output,
            prev_hash,
        }
    }

    /// SHA-256 over the domain tag `b"stwo-ml/audit/entry/v1"` and the canonical encoding of
    /// every field (fixed-width little-endian integers, u64 length prefixes for input and
    /// output). This is the hash chain link (the next entry's `prev_hash`) and the content of
    /// the entry's Merkle leaf ([`crate::merkle::leaf_hash`]).
    pub fn hash(&self) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update(ENTRY_TAG);
        self.write_canonical(&mut |bytes| hasher.update(bytes));
        hasher.finalize().into()
    }

    /// Domain-separated SHA-256 of the input bytes.
    pub fn input_hash(&self) -> Hash {
        tagged_sha256(INPUT_TAG, &self.input)
    }

    /// Domain-separated SHA-256 of the output bytes.
    pub fn output_hash(&self) -> Hash {
        tagged_sha256(OUTPUT_TAG, &self.output)
    }

    /// Length of the canonical encoding.
    pub(crate) fn body_len(&self) -> usize {
        FIXED_BODY_LEN + self.input.len() + self.output.len()
    }

    /// Feeds the canonical encoding to `sink`, field by field.
    pub(crate) fn write_canonical(&self, sink: &mut impl FnMut(&[u8])) {
        sink(&self.seq.to_le_bytes());
        sink(&self.timestamp_ms.to_le_bytes());
        sink(&self.model_digest);
        sink(&(self.input.len() as u64).to_le_bytes());
        sink(&self.input);
        sink(&(self.output.len() as u64).to_le_bytes());
        sink(&self.output);
        sink(&self.prev_hash);
    }

    /// The hash [`Entry::hash`] would give for an entry whose canonical encoding is `body`.
    pub(crate) fn hash_of_body(body: &[u8]) -> Hash {
        tagged_sha256(ENTRY_TAG, body)
    }

    /// Decodes a canonical encoding; the whole of `body` must be consumed.
    pub(crate) fn decode(body: &[u8]) -> Result<Self, &'static str> {
        let mut reader = Reader { rest: body };
        let seq = u64::from_le_bytes(reader.array("seq")?);
        let timestamp_ms = i64::from_le_bytes(reader.array("timestamp")?);
        let model_digest = reader.array("model digest")?;
        let input = reader.bytes("input")?;
        let output = reader.bytes("output")?;
        let prev_hash = reader.array("prev_hash")?;
        if !reader.rest.is_empty() {
            return Err("trailing bytes after prev_hash");
        }
        Ok(Self {
            seq,
            timestamp_ms,
            model_digest,
            input,
            output,
            prev_hash,
        })
    }
}

fn tagged_sha256(tag: &[u8], bytes: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(tag);
    hasher.update(bytes);
    hasher.finalize().into()
}

/// Bounds-checked cursor over an encoded body.
struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], &'static str> {
        let (head, tail) = self.rest.split_first_chunk::<N>().ok_or(field)?;
        self.rest = tail;
        Ok(*head)
    }

    fn bytes(&mut self, field: &'static str) -> Result<Vec<u8>, &'static str> {
        let len = u64::from_le_bytes(self.array(field)?);
        let len = usize::try_from(len).map_err(|_| field)?;
        if len > self.rest.len() {
            return Err(field);
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        Entry {
            seq: 7,
            timestamp_ms: -3,
            model_digest: [9; 32],
            input: b"in".to_vec(),
            output: vec![],
            prev_hash: [1; 32],
        }
    }

    fn encode(entry: &Entry) -> Vec<u8> {
        let mut body = Vec::new();
        entry.write_canonical(&mut |bytes| body.extend_from_slice(bytes));
        body
    }

    #[test]
    fn encoding_round_trips() {
        let entry = sample();
        let body = encode(&entry);
        assert_eq!(body.len(), entry.body_len());
        assert_eq!(Entry::decode(&body), Ok(entry.clone()));
        assert_eq!(Entry::hash_of_body(&body), entry.hash());
    }

    #[test]
    fn truncated_or_padded_body_fails() {
        let body = encode(&sample());
        for cut in 0..body.len() {
            assert!(Entry::decode(&body[..cut]).is_err(), "cut at {cut}");
        }
        let mut padded = body;
        padded.push(0);
        assert!(Entry::decode(&padded).is_err());
    }

    #[test]
    fn huge_length_prefix_fails() {
        let mut body = encode(&sample());
        // Input length prefix sits after seq, timestamp and model digest.
        body[48..56].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(Entry::decode(&body), Err("input"));
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = sample();
        let mut variants = vec![base.clone(); 6];
        variants[0].seq += 1;
        variants[1].timestamp_ms += 1;
        variants[2].model_digest[0] ^= 1;
        variants[3].input.push(0);
        variants[4].output.push(0);
        variants[5].prev_hash[31] ^= 1;
        for variant in &variants {
            assert_ne!(variant.hash(), base.hash());
        }
        // Moving a byte between input and output is caught by the length prefixes.
        let mut moved = base.clone();
        moved.input = b"i".to_vec();
        moved.output = b"n".to_vec();
        assert_ne!(moved.hash(), base.hash());
        assert_ne!(base.input_hash(), base.output_hash());
    }
}
