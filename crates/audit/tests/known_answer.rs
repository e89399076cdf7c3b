//! Known answers: the Certificate Transparency reference tree (so the tree agrees with every
//! other RFC 6962 implementation) and pinned hashes of our own formats (so a change to the
//! entry encoding, the leaf/node hashing or the segment layout is noticed).
#![allow(clippy::unwrap_used)]

use audit::merkle::{
    consistency_path, inclusion_path, root_of, verify_consistency, verify_inclusion,
};
use audit::{leaf_hash, Entry, Hash, Log, LogOptions};
use sha2::{Digest, Sha256};

fn h(hex_str: &str) -> Hash {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

/// Leaf hashes of the CT reference tree, whose leaves are raw byte strings.
fn ct_leaves() -> Vec<Hash> {
    let data = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    data.iter()
        .map(|d| {
            let mut hasher = Sha256::new();
            hasher.update([0x00]);
            hasher.update(hex::decode(d).unwrap());
            hasher.finalize().into()
        })
        .collect()
}

/// Tree heads of the CT reference tree for sizes 0..=8.
const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn ct_reference_roots() {
    let leaves = ct_leaves();
    for (size, root) in CT_ROOTS.iter().enumerate() {
        assert_eq!(root_of(&leaves[..size]), h(root), "size {size}");
    }
}

#[test]
fn ct_reference_proofs() {
    let leaves = ct_leaves();
    let root8 = h(CT_ROOTS[8]);
    let inclusion = [
        (
            0,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (index, expected) in inclusion {
        let expected: Vec<Hash> = expected.iter().map(|x| h(x)).collect();
        assert_eq!(inclusion_path(&leaves, index).unwrap(), expected);
        verify_inclusion(&leaves[index as usize], index, 8, &expected, &root8).unwrap();
    }
    let consistency: [(u64, &[&str]); 2] = [
        (
            2,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (old_size, expected) in consistency {
        let expected: Vec<Hash> = expected.iter().map(|x| h(x)).collect();
        assert_eq!(consistency_path(&leaves, old_size).unwrap(), expected);
        let old_root = h(CT_ROOTS[old_size as usize]);
        verify_consistency(old_size, 8, &old_root, &root8, &expected).unwrap();
    }
}

#[test]
fn pinned_root_of_seven_leaves() {
    // Leaves over the entry hashes SHA-256(b"0") .. SHA-256(b"6").
    let leaves: Vec<Hash> = (0..7)
        .map(|i| leaf_hash(&Sha256::digest(i.to_string()).into()))
        .collect();
    assert_eq!(
        hex::encode(root_of(&leaves)),
        "5653c4ab2514ccd6ea4f0159702d2aba901f2562aa75abcff5a19e344bee038f"
    );
}

fn pinned_entry(seq: u64, prev_hash: Hash) -> Entry {
    Entry {
        seq,
        timestamp_ms: 1_700_000_000_000 + seq as i64,
        model_digest: [0xAB; 32],
        input: b"input".to_vec(),
        output: b"output".to_vec(),
        prev_hash,
    }
}

// The pinned values below were also computed by an independent few-line Python script from
// the format description (entry encoding in `Entry::hash`, segment layout in `segment.rs`).

#[test]
fn pinned_entry_hashes() {
    let entry = pinned_entry(0, [0; 32]);
    assert_eq!(
        hex::encode(entry.hash()),
        "d02a2ad0e9506b8fccc74ffa3336ae74ec8ce37ef6212144420ea4856b1c287d"
    );
    assert_eq!(
        hex::encode(entry.input_hash()),
        "aa7f65ae6ef3b80d57e7a954c45c4fa54d69fd3ce23e40ee3f710c956618b188"
    );
    assert_eq!(
        hex::encode(entry.output_hash()),
        "ee4e89d200748db37fd70759355cab0227c24b26300c1a9f200b7f88ffedc894"
    );
}

#[test]
fn pinned_segment_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), LogOptions::default()).unwrap();
    let mut prev = [0; 32];
    for seq in 0..2 {
        let entry = pinned_entry(seq, prev);
        let receipt = log
            .append(audit::EntryData {
                timestamp_ms: entry.timestamp_ms,
                model_digest: entry.model_digest,
                input: entry.input.clone(),
                output: entry.output.clone(),
            })
            .unwrap();
        assert_eq!(receipt.entry_hash, entry.hash());
        prev = entry.hash();
    }
    assert_eq!(
        hex::encode(log.root()),
        "430dfbf19efcd773110c4da73f0a4957e6cbdceade1e799446659e6360fe7372"
    );
    let bytes = std::fs::read(dir.path().join("00000000000000000000.seg")).unwrap();
    assert_eq!(&bytes[..12], b"STWOAUDL\x01\x00\x00\x00");
    assert_eq!(bytes.len(), 20 + 2 * (40 + 96 + 5 + 6));
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        "ba494cd9bae376d8dc5aa1e3bea63e6c6c3bf9f1786b893ca0f0633dd1a12290"
    );
}
