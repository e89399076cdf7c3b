//! Versioned proof fixture: a stored proof of the built-in tiny MLP must keep verifying, and
//! the prover must keep producing it byte for byte. A failure here means the proof format or
//! the protocol changed: bump `PROOF_VERSION` and regenerate with
//! `cargo test -p zkml --test fixtures -- --ignored regenerate`.
#![allow(clippy::unwrap_used)]

use model::examples::{self, random_input};
use zkml::proof::ProofFile;
use zkml::{prove, verify, CommittedModel, ProofConfig, ProofFormat};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/tiny-mlp-v10.proof"
);

fn fresh() -> (CommittedModel, Vec<u8>) {
    let m = CommittedModel::new(
        examples::by_name("tiny-mlp").unwrap(),
        ProofConfig::default(),
    )
    .unwrap();
    let x = random_input(&m.graph, 1);
    let (y, proof) = prove(&m, &x, &()).unwrap();
    let file = ProofFile::new(&m, x, y, proof);
    let bytes = file.encode(ProofFormat::Binary).unwrap();
    (m, bytes)
}

#[test]
fn stored_proof_verifies_and_is_reproduced() {
    let stored = std::fs::read(FIXTURE).unwrap();
    let (m, bytes) = fresh();
    let file = ProofFile::decode(&stored).unwrap();
    verify(&m.vk, &file.input, &file.output, &file.proof).unwrap();
    assert!(
        bytes == stored,
        "the prover no longer reproduces the stored proof: format or protocol changed"
    );
}

#[test]
#[ignore = "writes the fixture"]
fn regenerate() {
    std::fs::write(FIXTURE, fresh().1).unwrap();
}

mod fuzz {
    use proptest::prelude::*;
    use zkml::proof::{ProofFile, PROOF_VERSION};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Arbitrary bytes, with or without the current header, never make the decoder panic
        /// (structured mutations of a valid proof, through the verifier too: tests/fuzz.rs).
        #[test]
        fn decoder_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..4096), header in any::<bool>()) {
            if header {
                let mut b = b"SMLPROOF".to_vec();
                b.extend_from_slice(&PROOF_VERSION.to_le_bytes());
                b.extend(bytes);
                bytes = b;
            }
            let _ = ProofFile::decode(&bytes);
        }
    }
}
