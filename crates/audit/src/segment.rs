//! On-disk format of a segment: a header, then one frame per entry.
//!
//! ```text
//! segment = header frame*
//! header  = "STWOAUDL" (8) | format version u32 LE (4) | first seq u64 LE (8)
//! frame   = "AREC" (4) | body length u32 LE (4) | body | checksum (32)
//! checksum = SHA-256("stwo-ml/audit/entry/v1" || body), the entry hash
//! body    = the entry's canonical encoding (see `Entry::write_canonical`)
//! ```
//!
//! The frame checksum is the entry hash itself, so verifying a frame and computing the hash
//! chain link and Merkle leaf are one SHA-256 over the body.

use crate::entry::{Entry, FIXED_BODY_LEN};
use crate::Hash;

/// Magic at the start of every segment.
const SEGMENT_MAGIC: [u8; 8] = *b"STWOAUDL";
/// Version of the segment and frame layout.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Bytes in a segment header.
pub(crate) const HEADER_LEN: usize = 8 + 4 + 8;
/// Magic at the start of every frame.
const FRAME_MAGIC: [u8; 4] = *b"AREC";
/// Bytes a frame adds around its body: magic, length, checksum.
pub(crate) const FRAME_OVERHEAD: usize = 4 + 4 + 32;
/// Largest body a frame holds, so that a whole frame's length fits a u32.
pub(crate) const MAX_BODY_LEN: usize = u32::MAX as usize - FRAME_OVERHEAD;
/// Suffix of segment names.
const SUFFIX: &str = ".seg";
/// Digits in a segment name.
const NAME_DIGITS: usize = 20;

/// Name of the segment whose first entry is `first_seq`, e.g. `00000000000000000000.seg`.
pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:0width$}{SUFFIX}", width = NAME_DIGITS)
}

/// First seq of a segment named by [`segment_name`]; `None` for any other name.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Header of the segment whose first entry is `first_seq`.
pub(crate) fn header(first_seq: u64) -> [u8; HEADER_LEN] {
    let mut out = [0; HEADER_LEN];
    out[..8].copy_from_slice(&SEGMENT_MAGIC);
    out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[12..].copy_from_slice(&first_seq.to_le_bytes());
    out
}

/// Says what is wrong with a complete header, or `None` if it is the expected one.
pub(crate) fn check_header(bytes: &[u8; HEADER_LEN], first_seq: u64) -> Option<String> {
    if bytes[..8] != SEGMENT_MAGIC {
        return Some("bad segment magic".into());
    }
    let mut version = [0; 4];
    version.copy_from_slice(&bytes[8..12]);
    let version = u32::from_le_bytes(version);
    if version != FORMAT_VERSION {
        return Some(format!(
            "segment format version {version}, this build reads {FORMAT_VERSION}"
        ));
    }
    let mut seq = [0; 8];
    seq.copy_from_slice(&bytes[12..]);
    let seq = u64::from_le_bytes(seq);
    (seq != first_seq).then(|| format!("header says first seq {seq}, the name says {first_seq}"))
}

/// Appends `entry`'s frame to `out` and returns the entry hash, or the body length if it is
/// over [`MAX_BODY_LEN`] (then `out` is unchanged).
pub(crate) fn encode_frame(entry: &Entry, out: &mut Vec<u8>) -> Result<Hash, usize> {
    let body_len = entry.body_len();
    let len_field = u32::try_from(body_len)
        .ok()
        .filter(|_| body_len <= MAX_BODY_LEN)
        .ok_or(body_len)?;
    out.reserve(FRAME_OVERHEAD + body_len);
    out.extend_from_slice(&FRAME_MAGIC);
    out.extend_from_slice(&len_field.to_le_bytes());
    let body_start = out.len();
    entry.write_canonical(&mut |bytes| out.extend_from_slice(bytes));
    let hash = Entry::hash_of_body(&out[body_start..]);
    out.extend_from_slice(&hash);
    Ok(hash)
}

/// What [`parse_frame`] found at the start of a byte string.
#[derive(Debug)]
pub(crate) enum Frame {
    /// A whole frame with a matching checksum.
    Valid {
        entry: Entry,
        hash: Hash,
        /// Frame length in bytes (fits a u32 because the body is at most [`MAX_BODY_LEN`]).
        len: u32,
    },
    /// The bytes end before the frame does.
    Incomplete,
    /// Not a frame, or a frame whose checksum or body is wrong.
    Invalid(&'static str),
}

/// Parses the frame at the start of `bytes`; any bytes after it are left alone.
pub(crate) fn parse_frame(bytes: &[u8]) -> Frame {
    let Some((prefix, rest)) = bytes.split_first_chunk::<8>() else {
        return if FRAME_MAGIC.starts_with(&bytes[..bytes.len().min(4)]) {
            Frame::Incomplete
        } else {
            Frame::Invalid("bad frame magic")
        };
    };
    if prefix[..4] != FRAME_MAGIC {
        return Frame::Invalid("bad frame magic");
    }
    let len_field = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
    let body_len = len_field as usize;
    if !(FIXED_BODY_LEN..=MAX_BODY_LEN).contains(&body_len) {
        return Frame::Invalid("frame length out of range");
    }
    if rest.len() < body_len + 32 {
        return Frame::Incomplete;
    }
    let (body, rest) = rest.split_at(body_len);
    let mut stored = [0; 32];
    stored.copy_from_slice(&rest[..32]);
    let hash = Entry::hash_of_body(body);
    if hash != stored {
        return Frame::Invalid("checksum mismatch");
    }
    match Entry::decode(body) {
        Ok(entry) => Frame::Valid {
            entry,
            hash,
            len: len_field + FRAME_OVERHEAD as u32,
        },
        Err(_) => Frame::Invalid("body does not decode"),
    }
}

/// Offset of the first valid frame starting after `from`, if any.
pub(crate) fn next_valid_frame(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes
        .len()
        .saturating_sub(FRAME_OVERHEAD + FIXED_BODY_LEN - 1))
        .find(|&at| {
            bytes[at..].starts_with(&FRAME_MAGIC)
                && matches!(parse_frame(&bytes[at..]), Frame::Valid { .. })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> Entry {
        Entry {
            seq,
            timestamp_ms: 5,
            model_digest: [2; 32],
            input: vec![1, 2, 3],
            output: b"out".to_vec(),
            prev_hash: [0; 32],
        }
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_name(0), "00000000000000000000.seg");
        assert_eq!(segment_name(u64::MAX), "18446744073709551615.seg");
        for seq in [0, 1, 4096, u64::MAX] {
            assert_eq!(parse_segment_name(&segment_name(seq)), Some(seq));
        }
        for bad in [
            "0.seg",
            "18446744073709551616.seg",
            "0000000000000000000a.seg",
            "x",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_checks() {
        assert_eq!(check_header(&header(9), 9), None);
        assert!(check_header(&header(9), 8).is_some());
        let mut bad = header(9);
        bad[8] = 2;
        assert!(check_header(&bad, 9).is_some());
        bad = header(9);
        bad[0] = b'X';
        assert!(check_header(&bad, 9).is_some());
    }

    #[test]
    fn frame_round_trips_and_every_prefix_is_incomplete() {
        let mut bytes = Vec::new();
        let hash = encode_frame(&entry(3), &mut bytes).unwrap();
        assert_eq!(hash, entry(3).hash());
        match parse_frame(&bytes) {
            Frame::Valid {
                entry: e,
                hash: h,
                len,
            } => {
                assert_eq!((e, h, len as usize), (entry(3), hash, bytes.len()));
            }
            other => panic!("{other:?}"),
        }
        for cut in 0..bytes.len() {
            assert!(
                matches!(parse_frame(&bytes[..cut]), Frame::Incomplete),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn flipped_bytes_are_invalid_or_incomplete() {
        let mut bytes = Vec::new();
        encode_frame(&entry(3), &mut bytes).unwrap();
        for at in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x40;
            assert!(
                !matches!(parse_frame(&flipped), Frame::Valid { .. }),
                "byte {at}"
            );
        }
    }

    #[test]
    fn finds_a_later_valid_frame() {
        let mut bytes = vec![0xAA; 13];
        encode_frame(&entry(1), &mut bytes).unwrap();
        assert_eq!(next_valid_frame(&bytes, 0), Some(13));
        assert_eq!(next_valid_frame(&bytes, 14), None);
        assert_eq!(next_valid_frame(&bytes[..bytes.len() - 1], 0), None);
    }
}
