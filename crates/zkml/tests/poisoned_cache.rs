//! A poisoned weight-commitment cache. The cache is keyed by the packed weights' hash and
//! sealed by an unkeyed checksum, so whoever can write to it can put another model's codeword
//! and Merkle tree under honest weights (and reseal). This test builds exactly that file and
//! shows what it does: a reader of the cache takes the honest model to have the foreign
//! commitment, and a foreign proof checks against such a key; the verifier's key, recommitted
//! from the weights as `prove-model verify` and `setup` do, refuses it.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use blake2::{Blake2s256, Digest};
use model::examples::{self, random_input};
use model::Graph;
use zkml::{prove, verify, CacheStatus, CommittedModel, ProofConfig};

/// The same model with one weight moved by one step.
fn other_weights(g: &Graph) -> Graph {
    let mut b = g.clone();
    let mut w: Vec<i64> = b.weights[0].data.to_vec();
    w[0] += if w[0] > 0 { -1 } else { 1 };
    b.weights[0].data = w.into();
    b
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// `honest`'s header and evaluations with `foreign`'s codeword and tree, resealed with the
/// cache's checksum (Blake2s over the Blake2s hashes of 1 MiB chunks; the format is in
/// `pcs::cache`).
fn splice(honest: &[u8], foreign: &[u8]) -> Vec<u8> {
    assert_eq!(honest.len(), foreign.len());
    let n = u32::from_le_bytes(honest[32..36].try_into().unwrap());
    let evals_end = 36 + (4usize << n);
    let mut body = honest[..evals_end].to_vec();
    body.extend_from_slice(&foreign[evals_end..foreign.len() - 32]);
    let mut h = Blake2s256::new();
    for chunk in body.chunks(pcs::cache::CHECKSUM_CHUNK) {
        h.update(Blake2s256::digest(chunk));
    }
    let sum = h.finalize();
    body.extend_from_slice(&sum);
    body
}

#[test]
fn a_poisoned_cache_cannot_make_a_foreign_proof_verify() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path();
    let config = ProofConfig::default();
    let a = examples::by_name("tiny-mlp").unwrap();
    let b = other_weights(&a);

    let (ma, _) = CommittedModel::load_or_commit(a.clone(), config, Some(cache)).unwrap();
    let files_a = cache_files(cache);
    let (mb, _) = CommittedModel::load_or_commit(b.clone(), config, Some(cache)).unwrap();
    assert_ne!(mb.vk.digest(), ma.vk.digest(), "other weights, other key");
    let files_b: Vec<PathBuf> = cache_files(cache)
        .into_iter()
        .filter(|f| !files_a.contains(f))
        .collect();
    assert_eq!(files_a.len(), files_b.len());
    for (fa, fb) in files_a.iter().zip(&files_b) {
        let poisoned = splice(&std::fs::read(fb).unwrap(), &std::fs::read(fa).unwrap());
        std::fs::write(fb, poisoned).unwrap();
    }

    // The poison works on whoever reads the cache: B's weights, A's commitment.
    let (poisoned, status) =
        CommittedModel::load_or_commit(b.clone(), config, Some(cache)).unwrap();
    assert_eq!(status, CacheStatus::Loaded);
    assert_eq!(poisoned.vk.digest(), ma.vk.digest());
    let x = random_input(&a, 1);
    let (y, proof_a) = prove(&ma, &x, &()).unwrap();
    verify(&poisoned.vk, &x, &y, &proof_a).expect("a cache-read key accepts A's proof");

    // The verifier's key is recommitted from B's weights: A's proof is refused.
    let fresh = CommittedModel::new(b, config).unwrap();
    assert_eq!(fresh.vk.digest(), mb.vk.digest());
    assert!(verify(&fresh.vk, &x, &y, &proof_a).is_err());
}
