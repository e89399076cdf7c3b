//! Softmax (causal and padded) and embedding lookups proved end to end, with a cheating prover
//! for each relation.
#![allow(clippy::unwrap_used)]

use model::examples::random_input;
use model::execute::execute_forged;
use model::softmax::SOFTMAX_BITS;
use model::{Graph, GraphBuilder, Shape, Tensor, Weight};
use zkml::prover::{prove_trace, WitnessCheck};
use zkml::{prove, verify, CommittedModel, ProofConfig, VerifyError};

/// Softmax over the rows of a 6 x 6 input (padded to 8 x 8), the output public.
fn softmax_model(causal: bool) -> CommittedModel {
    let mut b = GraphBuilder::new("softmax", Shape::new(6, 6), 8).unwrap();
    let p = b.softmax(0, causal).unwrap();
    CommittedModel::new(b.build(p).unwrap(), ProofConfig::default()).unwrap()
}

fn node_of(g: &Graph, kind: &str) -> usize {
    g.nodes.iter().position(|n| n.op.kind() == kind).unwrap()
}

/// Proves a trace whose node `node` was altered by `forge`, and returns the verifier's verdict.
fn cheat(m: &CommittedModel, x: &Tensor, node: usize, forge: impl Fn(&mut Tensor)) -> VerifyError {
    let trace = execute_forged(&m.graph, std::slice::from_ref(x), node, forge).unwrap();
    let (y, p) = prove_trace(
        m,
        std::slice::from_ref(x),
        &trace,
        &(),
        WitnessCheck::Lenient,
    )
    .unwrap();
    verify(&m.vk, x, &y, &p).unwrap_err()
}

/// Scores spread over several units so that the softmax is neither flat nor one-hot.
fn scores(seed: u64) -> Tensor {
    let mut x = random_input(&softmax_model(false).graph, seed);
    x.data.iter_mut().for_each(|v| *v *= 3);
    x
}

#[test]
fn softmax_works_and_matches_f64() {
    for causal in [false, true] {
        let m = softmax_model(causal);
        let x = scores(1);
        let (y, p) = prove(&m, &x, &()).unwrap();
        verify(&m.vk, &x, &y, &p).unwrap();
        let mut worst = 0f64;
        for i in 0..6 {
            let n = if causal { i + 1 } else { 6 };
            let row: Vec<f64> = (0..n).map(|j| x.get(i, j) as f64 / 256.0).collect();
            let mx = row.iter().cloned().fold(f64::MIN, f64::max);
            let sum: f64 = row.iter().map(|v| (v - mx).exp()).sum();
            for j in 0..6 {
                let want = if j < n {
                    (row[j] - mx).exp() / sum
                } else {
                    0.0
                };
                let got = y.get(i, j) as f64 / (1u64 << SOFTMAX_BITS) as f64;
                worst = worst.max((got - want).abs());
            }
        }
        eprintln!("softmax 6 x 6 (causal {causal}): max abs error vs f64 {worst:.2e}");
        // Measured 2.2e-4: exp values carry 11 fractional bits here, the quotient 14.
        assert!(worst < 1e-3, "causal {causal}: max abs error {worst}");
    }
}

#[test]
fn wrong_softmax_row_fails() {
    let m = softmax_model(true);
    let x = scores(2);
    let err = cheat(&m, &x, m.graph.output, |t| t.data[3 * 6 + 1] += 1);
    assert!(matches!(err, VerifyError::Lookup(_)), "{err}");
}

#[test]
fn wrong_row_max_fails() {
    let m = softmax_model(true);
    let x = scores(3);
    let max = node_of(&m.graph, "softmax_max");
    // Above the maximum: the selected entry's gap is not zero.
    let err = cheat(&m, &x, max, |t| t.data[4] += 1);
    assert!(
        matches!(err, VerifyError::Layer { node, .. } if node == max),
        "{err}"
    );
    // Below it: some gap is negative.
    let err = cheat(&m, &x, max, |t| t.data[4] -= 1);
    assert!(matches!(err, VerifyError::Lookup(_)), "{err}");
}

#[test]
fn bypassed_causal_mask_fails() {
    let m = softmax_model(true);
    let x = scores(4);
    // Attention to a future position: row 1 gives weight to column 4.
    // A future exp value: the quotient there is non-zero too, and the walk meets the
    // division's zero-check first.
    let (exp, div) = (node_of(&m.graph, "softmax_exp"), m.graph.output);
    let err = cheat(&m, &x, exp, |t| t.data[6 + 4] = 100);
    assert!(
        matches!(err, VerifyError::Layer { node, .. } if node == exp || node == div),
        "{err}"
    );
    let err = cheat(&m, &x, div, |t| t.data[6 + 4] = 9);
    assert!(
        matches!(err, VerifyError::Layer { node, .. } if node == div),
        "{err}"
    );
}

/// Token ids (5 x 1) -> rows of a 40 x 16 table -> RMS-free rescale, so the embedding's
/// claim comes from a later node.
fn embedding_model() -> CommittedModel {
    let mut b = GraphBuilder::new("embed", Shape::new(5, 1), 0).unwrap();
    let table = Weight {
        name: "embed.weight".into(),
        shape: Shape::new(40, 16),
        scale: 8,
        data: (0..40 * 16).map(|i| (i * 37 % 511) - 255).collect(),
    };
    let e = b.embedding(0, table).unwrap();
    let y = b.rescale(e, 2).unwrap();
    CommittedModel::new(b.build(y).unwrap(), ProofConfig::default()).unwrap()
}

fn ids() -> Tensor {
    Tensor::new(Shape::new(5, 1), vec![3, 39, 0, 17, 3])
}

#[test]
fn embedding_works() {
    let m = embedding_model();
    let (y, p) = prove(&m, &ids(), &()).unwrap();
    assert_eq!(y.get(1, 2), ((39 * 16 + 2) * 37 % 511 - 255 + 2) >> 2);
    verify(&m.vk, &ids(), &y, &p).unwrap();
}

#[test]
fn wrong_embedding_row_or_id_fails() {
    let m = embedding_model();
    let emb = node_of(&m.graph, "embedding");
    let err = cheat(&m, &ids(), emb, |t| t.data[16 + 5] += 4);
    assert!(
        matches!(err, VerifyError::Layer { node, .. } if node == emb),
        "{err}"
    );
    // The proof of one id sequence does not verify for another.
    let (y, p) = prove(&m, &ids(), &()).unwrap();
    let mut other = ids();
    other.data[2] = 1;
    assert!(verify(&m.vk, &other, &y, &p).is_err());
    other.data[2] = 40;
    let err = verify(&m.vk, &other, &y, &p).unwrap_err();
    assert!(matches!(err, VerifyError::PublicRange { .. }), "{err}");
}

#[test]
fn softmax_step_outside_its_pattern_is_refused() {
    let m = softmax_model(true);
    let mut g = m.graph.clone();
    let exp = node_of(&g, "softmax_exp");
    // The exp step fed by the raw input instead of the row max.
    if let model::Op::SoftmaxExp { ref mut max, .. } = g.nodes[exp].op {
        *max = 0;
    }
    assert!(CommittedModel::new(g.clone(), ProofConfig::default()).is_err());
    let err = zkml::circuit::Circuit::new(zkml::circuit::GraphShape::of(&g)).unwrap_err();
    assert!(matches!(err, VerifyError::MalformedModel(_)), "{err}");
}

/// A vocabulary of 2^17: token ids above the activation range select their rows, and a proof
/// for one id does not verify for another.
#[test]
fn vocabulary_of_2pow17_proves() {
    let vocab = 1 << 17;
    let table = Weight {
        name: "embed".into(),
        shape: Shape::new(vocab, 4),
        scale: 8,
        data: (0..vocab as i64 * 4)
            .map(|i| (i * 7919) % 509 - 254)
            .collect(),
    };
    let mut b = GraphBuilder::new("big-vocab", Shape::new(2, 1), 0).unwrap();
    let e = b.embedding(0, table).unwrap();
    let y = b.relu(e).unwrap();
    let g = b.build(y).unwrap();
    let m = CommittedModel::new(g, ProofConfig::default()).unwrap();
    let ids = Tensor::new(Shape::new(2, 1), vec![100_000, (1 << 17) - 1]);
    let (out, proof) = prove(&m, &ids, &()).unwrap();
    verify(&m.vk, &ids, &out, &proof).unwrap();
    let row = |id: i64| (0..4).map(move |c| ((id * 4 + c) * 7919) % 509 - 254);
    let want: Vec<i64> = row(100_000)
        .chain(row((1 << 17) - 1))
        .map(|v| v.max(0))
        .collect();
    assert_eq!(out.data, want);
    let other = Tensor::new(Shape::new(2, 1), vec![100_001, (1 << 17) - 1]);
    assert!(verify(&m.vk, &other, &out, &proof).is_err());
    // Beyond the vocabulary: refused by the verifier, not a panic.
    let outside = Tensor::new(Shape::new(2, 1), vec![1 << 17, 0]);
    assert!(verify(&m.vk, &outside, &out, &proof).is_err());
}
