//! The verifying-key file: it round-trips, a proof verifies against the decoded key alone, and
//! damaged, trailing, oversized or too weak keys are refused at decoding, never with a panic.
#![allow(clippy::unwrap_used)]

use model::examples::{self, random_input};
use zkml::{prove, verify, CommittedModel, KeyFile, ProofConfig, SetupRecord, VerifyError};

fn key_and_proof() -> (KeyFile, model::Tensor, model::Tensor, zkml::ModelProof) {
    let m = CommittedModel::new(
        examples::by_name("tiny-mlp").unwrap(),
        ProofConfig::default(),
    )
    .unwrap();
    let x = random_input(&m.graph, 3);
    let (y, proof) = prove(&m, &x, &()).unwrap();
    let setup = SetupRecord {
        calibration: vec![x.clone()],
        settings: vec![("--model".into(), "tiny-mlp".into())],
    };
    let key = KeyFile::new(m.vk.clone(), setup);
    assert_eq!(key.model_name(), m.graph.name);
    assert_eq!(key.n_params(), m.graph.n_params() as u64);
    (key, x, y, proof)
}

#[test]
fn key_round_trips_and_verifies_alone() {
    let (key, x, y, proof) = key_and_proof();
    let bytes = key.encode().unwrap();
    let back = KeyFile::decode(&bytes).unwrap();
    assert_eq!(back, key);
    assert_eq!(back.digest_hex(), key.vk.digest_hex());
    verify(&back.vk, &x, &y, &proof).unwrap();

    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        KeyFile::decode(&trailing),
        Err(VerifyError::Decode(_))
    ));
    let mut wrong_version = bytes.clone();
    wrong_version[8] = 9;
    let e = KeyFile::decode(&wrong_version).unwrap_err();
    assert!(e.to_string().contains("version"), "{e}");
    assert!(KeyFile::decode(b"SMLPROOF\x0a\0\0\0").is_err());
}

/// Every single-byte change of the key part either fails to decode or gives a key under which
/// the proof does not verify; none panics.
#[test]
fn damaged_keys_are_refused() {
    let (key, x, y, proof) = key_and_proof();
    let bytes = key.encode().unwrap();
    let setup_len = bincode::serialize(&key.setup).unwrap().len();
    let vk_end = bytes.len() - setup_len;
    for at in (0..vk_end).step_by(7) {
        let mut b = bytes.clone();
        b[at] ^= 0x5a;
        if let Ok(k) = KeyFile::decode(&b) {
            assert!(
                verify(&k.vk, &x, &y, &proof).is_err(),
                "byte {at} changed and the proof still verifies"
            );
        }
    }
}

#[test]
fn a_key_below_the_security_floor_is_refused() {
    let (mut key, ..) = key_and_proof();
    key.vk.config.pcs.n_queries = 3;
    let bytes = key.encode().unwrap();
    let e = KeyFile::decode(&bytes).unwrap_err();
    assert!(matches!(e, VerifyError::InsufficientSecurity { .. }), "{e}");
}

/// A proof made under another configuration than the key's is refused as such, not as
/// another model.
#[test]
fn a_proof_of_another_configuration_is_named() {
    let (key, x, ..) = key_and_proof();
    let mut config = ProofConfig::default();
    config.pcs.n_queries += 10;
    let m = CommittedModel::new(examples::by_name("tiny-mlp").unwrap(), config).unwrap();
    let (y, proof) = prove(&m, &x, &()).unwrap();
    let e = verify(&key.vk, &x, &y, &proof).unwrap_err();
    assert!(matches!(e, VerifyError::ConfigMismatch { .. }), "{e}");
    assert!(e.to_string().contains("queries"), "{e}");
    verify(&m.vk, &x, &y, &proof).unwrap();
}
