//! Weights committed as power-of-two tiles (`zkml::tiles`): an embedding of 3,072 x 48 and
//! projections 48 x 576 and 576 x 96 (every dimension cut in two) commit exactly their entries,
//! prove and verify; any change to the tile values, and wrong weights, are rejected. A tied
//! LM head (`MatMulTransposed` on the embedding table) commits the table once.
#![allow(clippy::unwrap_used)]

use model::{Graph, GraphBuilder, Shape, Tensor, Weight};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stwo::core::fields::qm31::QM31;
use zkml::proof::ModelProof;
use zkml::{prove, verify, CommittedModel, ProofConfig, VerifyError};

fn weight(name: &str, rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Weight {
    Weight {
        name: name.into(),
        shape: Shape::new(rows, cols),
        scale: 7,
        data: (0..rows * cols).map(|_| rng.gen_range(-60..=60)).collect(),
    }
}

/// Token ids (6 x 1) -> embedding 3072 x 48 -> 48 x 576 -> 576 x 96.
fn graph(seed: u64) -> Graph {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = GraphBuilder::new("tiled", Shape::new(6, 1), 0).unwrap();
    let mut table = weight("embed", 3072, 48, &mut rng);
    table.scale = 8;
    let e = b.embedding(0, table).unwrap();
    let h = b.matmul(e, weight("up", 48, 576, &mut rng)).unwrap();
    let h = b.rescale(h, 7).unwrap();
    let y = b.matmul(h, weight("down", 576, 96, &mut rng)).unwrap();
    let y = b.rescale(y, 9).unwrap();
    b.build(y).unwrap()
}

fn ids() -> Tensor {
    Tensor::new(Shape::new(6, 1), vec![0, 3071, 2048, 2047, 17, 2048])
}

fn proved() -> (CommittedModel, Tensor, ModelProof) {
    let m = CommittedModel::new(graph(1), ProofConfig::default()).unwrap();
    let (y, p) = prove(&m, &ids(), &()).unwrap();
    (m, y, p)
}

#[test]
fn tiled_weights_commit_their_entries_and_prove() {
    let (m, y, p) = proved();
    let tiles: Vec<usize> = m.circuit.weight_tiles.iter().map(Vec::len).collect();
    assert_eq!(tiles, vec![4, 4, 4]);
    let committed: usize = m
        .circuit
        .weight_packing
        .items
        .iter()
        .map(|&(_, n)| 1usize << n)
        .sum();
    assert_eq!(committed, 3072 * 48 + 48 * 576 + 576 * 96);
    // One claim on each weight, four tile values each.
    assert_eq!(p.weight_tiles.0.len(), 12);
    verify(&m.vk, &ids(), &y, &p).unwrap();
    let mut wrong = y.clone();
    wrong.data[5] += 1;
    assert!(verify(&m.vk, &ids(), &wrong, &p).is_err());
}

#[test]
fn changed_tile_values_are_rejected() {
    let (m, y, p) = proved();
    let check = |p: &ModelProof| verify(&m.vk, &ids(), &y, p);
    for i in 0..p.weight_tiles.0.len() {
        let mut bad = p.clone();
        bad.weight_tiles.0[i] += QM31::from(1u32);
        assert!(check(&bad).is_err(), "tile value {i} changed");
    }
    let mut swapped = p.clone();
    swapped.weight_tiles.0.swap(0, 1);
    assert!(check(&swapped).is_err());
    let mut short = p.clone();
    short.weight_tiles.0.pop();
    assert!(matches!(
        check(&short),
        Err(VerifyError::MalformedProof(s)) if s.contains("tile")
    ));
    let mut long = p.clone();
    long.weight_tiles.0.push(QM31::from(0u32));
    assert!(matches!(
        check(&long),
        Err(VerifyError::MalformedProof(s)) if s.contains("too many")
    ));
}

#[test]
fn other_weights_are_rejected() {
    let (m, y, _) = proved();
    // The same shapes with other weights: another commitment, and its proof does not verify
    // against this key.
    let other = CommittedModel::new(graph(2), ProofConfig::default()).unwrap();
    let (y2, p2) = prove(&other, &ids(), &()).unwrap();
    assert_ne!(m.vk.digest(), other.vk.digest());
    assert!(verify(&m.vk, &ids(), &y2, &p2).is_err());
    assert!(verify(&m.vk, &ids(), &y, &p2).is_err());
}

/// Token ids -> embedding 3072 x 48 -> 48 x 48 -> the tied head (the table's transpose).
fn tied_graph(seed: u64) -> Graph {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = GraphBuilder::new("tied", Shape::new(6, 1), 0).unwrap();
    let mut table = weight("embed", 3072, 48, &mut rng);
    table.scale = 8;
    let e = b.embedding(0, table).unwrap();
    let h = b.matmul(e, weight("mix", 48, 48, &mut rng)).unwrap();
    let h = b.rescale(h, 7).unwrap();
    let table = b.weight_of(e).unwrap();
    let logits = b.matmul_transposed(h, table).unwrap();
    let logits = b.rescale(logits, 10).unwrap();
    b.build(logits).unwrap()
}

#[test]
fn a_tied_head_reads_the_committed_embedding_table() {
    let g = tied_graph(3);
    assert_eq!(g.weights.len(), 2, "the head adds no weight");
    let m = CommittedModel::new(g, ProofConfig::default()).unwrap();
    let (y, p) = prove(&m, &ids(), &()).unwrap();
    assert_eq!((y.shape.rows, y.shape.cols), (6, 3072));
    // The integer semantics: logits = h . E^T, checked against the executor's plain matmul
    // on the explicit transpose.
    let trace = model::execute::execute(&m.graph, &ids()).unwrap();
    let (e, h) = (&m.graph.weights[0], &trace.values[3]);
    let t: Vec<i64> = (0..48 * 3072)
        .map(|i| e.data[(i % 3072) * 48 + i / 3072])
        .collect();
    let want = model::execute::matmul(h, &t, Shape::new(48, 3072));
    assert_eq!(trace.values[4], want);
    verify(&m.vk, &ids(), &y, &p).unwrap();
    let mut wrong = y.clone();
    wrong.data[3000] += 1;
    assert!(verify(&m.vk, &ids(), &wrong, &p).is_err());
    // The same table under another key: the head's claim opens against the embedding's
    // commitment, so other embeddings are rejected.
    let other = CommittedModel::new(tied_graph(4), ProofConfig::default()).unwrap();
    assert!(verify(&other.vk, &ids(), &y, &p).is_err());
}
