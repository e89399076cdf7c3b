//! Review findings of issue 19: the security floor, proof-file size limits.
#![allow(clippy::unwrap_used)]

use model::examples::{self, random_input};
use model::{Shape, Tensor};
use pcs::PcsConfig;
use zkml::config::{check_security, log_codeword, provable_commitment_bits, MIN_SECURITY_BITS};
use zkml::proof::{ProofFile, MAX_PROOF_BYTES};
use zkml::{prove, verify, CommittedModel, EncodeError, ProofConfig, ProofFormat, VerifyError};

fn tiny(config: ProofConfig) -> CommittedModel {
    CommittedModel::new(examples::by_name("tiny-mlp").unwrap(), config).unwrap()
}

/// 10 queries at rate 1/4 and 20 PoW bits: 40 conjectured bits.
fn weak() -> ProofConfig {
    let pcs = PcsConfig {
        n_queries: 10,
        ..PcsConfig::default()
    };
    ProofConfig {
        pcs,
        ..ProofConfig::default()
    }
}

#[test]
fn security_floor_holds_for_the_default_and_refuses_a_weak_config() {
    let m = tiny(ProofConfig::default());
    assert_eq!(check_security(&m.vk.config, &m.circuit).unwrap(), 96);
    let mlp = CommittedModel::new(examples::by_name("mlp").unwrap(), ProofConfig::default());
    let mlp = mlp.unwrap();
    assert!(check_security(&mlp.vk.config, &mlp.circuit).unwrap() >= MIN_SECURITY_BITS);
    assert!(matches!(
        check_security(&weak(), &m.circuit),
        Err(VerifyError::InsufficientSecurity {
            bits: 40,
            floor: 96
        })
    ));
    // The commitment's provable level is reported beside it, lower.
    let log_n = log_codeword(&m.vk.config, &m.circuit).unwrap();
    assert!(log_n <= pcs::config::MAX_LOG_CODEWORD);
    let provable = provable_commitment_bits(&m.vk.config, &m.circuit).unwrap();
    assert_eq!(provable, m.vk.config.pcs.provable_security_bits(log_n));
    assert!(provable < 96);
}

/// A proof honestly made under a configuration below the floor is refused by the verifier.
#[test]
fn verify_refuses_config_below_floor() {
    let m = tiny(weak());
    let x = random_input(&m.graph, 1);
    let (y, p) = prove(&m, &x, &()).unwrap();
    assert!(matches!(
        verify(&m.vk, &x, &y, &p),
        Err(VerifyError::InsufficientSecurity {
            bits: 40,
            floor: 96
        })
    ));
}

fn proof_file() -> ProofFile {
    let m = tiny(ProofConfig::default());
    let x = random_input(&m.graph, 2);
    let (y, p) = prove(&m, &x, &()).unwrap();
    ProofFile::new(&m, x, y, p)
}

#[test]
fn json_proof_over_limit_is_refused() {
    let file = proof_file();
    let mut json = file.encode(ProofFormat::Json).unwrap();
    // Trailing whitespace keeps the JSON valid: exactly at the limit it still decodes.
    json.resize(MAX_PROOF_BYTES as usize, b' ');
    assert_eq!(ProofFile::decode(&json).unwrap(), file);
    json.push(b' ');
    assert!(matches!(
        ProofFile::decode(&json),
        Err(VerifyError::ProofTooLarge { bytes, limit: MAX_PROOF_BYTES }) if bytes == MAX_PROOF_BYTES + 1
    ));
    // So is a binary file of that size, before its body is looked at.
    let mut bin = file.encode(ProofFormat::Binary).unwrap();
    bin.resize(MAX_PROOF_BYTES as usize + 1, 0);
    assert!(matches!(
        ProofFile::decode(&bin),
        Err(VerifyError::ProofTooLarge { .. })
    ));
}

#[test]
fn proof_over_limit_is_not_written() {
    let mut file = proof_file();
    // 2^25 eight-byte entries: the body alone is the limit, the header tips it over.
    let n = (MAX_PROOF_BYTES / 8) as usize;
    file.input = Tensor::new(Shape::new(1, n), vec![0; n]);
    assert!(matches!(
        file.encode(ProofFormat::Binary),
        Err(EncodeError::TooLarge {
            limit: MAX_PROOF_BYTES,
            ..
        })
    ));
}

#[test]
fn digest_is_unchanged_by_the_streamed_encoding() {
    // The digest hashes the domain tag then bincode's bytes of the key; streaming them into
    // the hash must give the bytes `bincode::serialize` returns (the proof fixture pins the
    // rest).
    use blake2::{Blake2s256, Digest};
    let m = tiny(ProofConfig::default());
    let mut h = Blake2s256::new();
    h.update(b"stwo-ml/model-commitment/v1");
    h.update(bincode::serialize(&m.vk).unwrap());
    let expected: [u8; 32] = h.finalize().into();
    assert_eq!(m.vk.digest(), expected);
}

#[test]
fn trailing_bytes_are_refused() {
    let file = proof_file();
    let mut bin = file.encode(ProofFormat::Binary).unwrap();
    assert_eq!(ProofFile::decode(&bin).unwrap(), file);
    bin.push(0);
    assert!(matches!(
        ProofFile::decode(&bin),
        Err(VerifyError::Decode(_))
    ));
    let mut json = file.encode(ProofFormat::Json).unwrap();
    json.extend_from_slice(b" {}");
    assert!(ProofFile::decode(&json).is_err());
}
