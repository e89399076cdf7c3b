//! Weights committed as several polynomials (`ProofConfig::max_weight_poly_vars` below the
//! packed size): proving and verifying, the cache, and the rejections that the split must not
//! open up (a chunk commitment swapped, dropped or taken from other weights).
#![allow(clippy::unwrap_used)]

use model::examples::{mlp, random_input};
use zkml::{prove, verify, CacheStatus, CommittedModel, ProofConfig, VerifyError};

/// An MLP whose weights pack into just over 2^11 entries (a 32x32 matrix is the largest
/// item).
fn graph(seed: u64) -> model::Graph {
    mlp(&[16, 32, 32, 16], 2, seed).unwrap()
}

fn config(max_vars: u32) -> ProofConfig {
    ProofConfig {
        max_weight_poly_vars: max_vars,
        ..ProofConfig::default()
    }
}

#[test]
fn weights_in_several_polynomials_prove_and_verify() {
    let one = CommittedModel::new(graph(3), ProofConfig::default()).unwrap();
    // Just over 2^11 entries: one full chunk and a trimmed one, not one of 2^12.
    assert_eq!(one.chunks.vars.len(), 2, "{:?}", one.chunks);
    assert_eq!(one.chunks.vars[0], 11, "{:?}", one.chunks);
    let m = CommittedModel::new(graph(3), config(10)).unwrap();
    assert!(m.vk.weights.len() >= 2, "{:?}", m.chunks);
    assert!(m.vk.weights.iter().all(|c| c.n_variables <= 10));
    let x = random_input(&m.graph, 5);
    let (y, proof) = prove(&m, &x, &()).unwrap();
    let (y_one, _) = prove(&one, &x, &()).unwrap();
    assert_eq!(y, y_one, "the split does not change the output");
    verify(&m.vk, &x, &y, &proof).unwrap();

    // Another output is still rejected.
    let mut wrong = y.clone();
    wrong.data[0] += 1;
    assert!(verify(&m.vk, &x, &wrong, &proof).is_err());
}

#[test]
fn a_weight_larger_than_the_chunk_is_refused() {
    let err = CommittedModel::new(graph(3), config(9)).unwrap_err();
    assert!(err.to_string().contains("exceeds"), "{err}");
}

#[test]
fn a_chunk_opened_against_another_commitment_is_rejected() {
    let m = CommittedModel::new(graph(3), config(10)).unwrap();
    let x = random_input(&m.graph, 5);
    let (y, proof) = prove(&m, &x, &()).unwrap();
    let n_chunks = m.vk.weights.len();

    // A key whose chunks are the other weights' except chunk `k`, which commits to this
    // model's; a prover holding only the other weights proves against it. Its transcript
    // matches the key (same digest), so the rejection must come from chunk `k`'s opening.
    for k in 0..n_chunks {
        let honest = CommittedModel::new(graph(3), config(10)).unwrap();
        let other = CommittedModel::new(graph(4), config(10)).unwrap();
        assert_eq!(honest.chunks, other.chunks);
        let mut vk = other.vk.clone();
        vk.weights[k] = honest.vk.weights[k];
        let forged = CommittedModel { vk, ..other };
        let (y2, proof2) = prove(&forged, &x, &()).unwrap();
        let err = verify(&forged.vk, &x, &y2, &proof2).unwrap_err();
        assert!(matches!(err, VerifyError::Opening(_)), "chunk {k}: {err}");
    }

    // The honest proof under a key with two chunks exchanged, or one missing.
    let mut vk = m.vk.clone();
    vk.weights.swap(0, 1);
    assert!(verify(&vk, &x, &y, &proof).is_err());
    let mut vk = m.vk.clone();
    vk.weights.pop();
    let err = verify(&vk, &x, &y, &proof).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::MalformedModel(_) | VerifyError::WrongModel { .. }
        ),
        "{err}"
    );
}

#[test]
fn chunked_commitments_are_cached_and_rebound() {
    let dir = std::env::temp_dir().join(format!("stwo-ml-chunks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (a, s) = CommittedModel::load_or_commit(graph(3), config(10), Some(&dir)).unwrap();
    assert_eq!(s, CacheStatus::Stored);
    let (b, s) = CommittedModel::load_or_commit(graph(3), config(10), Some(&dir)).unwrap();
    assert_eq!(s, CacheStatus::Loaded);
    assert_eq!(a.vk, b.vk);
    let x = random_input(&b.graph, 6);
    let (y, proof) = prove(&b, &x, &()).unwrap();
    verify(&a.vk, &x, &y, &proof).unwrap();

    // Rebinding keeps the chunks for the same weights and refuses other ones.
    let b = b.rebind(graph(3)).unwrap();
    assert_eq!(b.vk.weights, a.vk.weights);
    assert!(b.rebind(graph(4)).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn update_recommits_only_the_chunks_that_changed() {
    let a = CommittedModel::new(graph(3), config(10)).unwrap();
    let n = a.vk.weights.len();
    assert!(n >= 3, "{:?}", a.chunks);
    let old_vk = a.vk.clone();
    // The last weight (16 x 16, in a small chunk) changes; everything else is the same.
    let mut g = graph(3);
    let last = g.weights.len() - 1;
    g.weights[last].data[0] += 1;
    let (b, changed) = a.update(g.clone()).unwrap();
    assert_eq!(changed, 1);
    let differ = (0..n)
        .filter(|&k| b.vk.weights[k] != old_vk.weights[k])
        .count();
    assert_eq!(differ, 1);
    assert_eq!(b.vk, CommittedModel::new(g, config(10)).unwrap().vk);
    let x = random_input(&b.graph, 5);
    let (y, proof) = prove(&b, &x, &()).unwrap();
    verify(&b.vk, &x, &y, &proof).unwrap();
    assert!(verify(&old_vk, &x, &y, &proof).is_err());
    // `rebind` refuses what `update` recommits; another layout is refused by both.
    assert!(matches!(
        b.rebind(graph(3)),
        Err(zkml::ProveError::WeightsDiffer)
    ));
    let other = model::examples::mlp(&[16, 128, 128, 16], 2, 3).unwrap();
    let c = CommittedModel::new(graph(3), config(10)).unwrap();
    assert!(c.update(other).is_err());
}
