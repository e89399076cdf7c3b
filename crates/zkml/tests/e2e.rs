//! End-to-end proving and the soundness tests of the inference proof.
#![allow(clippy::unwrap_used)]

use model::examples::{self, mlp, random_input};
use model::execute::execute_forged;
use model::{execute, Op, Tensor, Trace};
use zkml::proof::ProofFile;
use zkml::prover::{prove_trace, WitnessCheck};
use zkml::{prove, verify, CommittedModel, ModelProof, ProofConfig, ProofFormat, VerifyError};

fn tiny() -> CommittedModel {
    CommittedModel::new(
        examples::by_name("tiny-mlp").unwrap(),
        ProofConfig::default(),
    )
    .unwrap()
}

fn proved(m: &CommittedModel, seed: u64) -> (Tensor, Tensor, ModelProof) {
    let x = random_input(&m.graph, seed);
    let (y, p) = prove(m, &x, &()).unwrap();
    (x, y, p)
}

#[test]
fn mlp_784_512_512_10_proves_and_verifies() {
    let m = CommittedModel::new(examples::by_name("mlp").unwrap(), ProofConfig::default()).unwrap();
    let (x, y, p) = proved(&m, 3);
    assert_eq!(y.shape, model::Shape::new(1, 10));
    verify(&m.vk, &x, &y, &p).unwrap();
    assert!(
        p.size_bytes() < 1 << 20,
        "proof is {} bytes",
        p.size_bytes()
    );
    // The parts account for the whole encoding but its few header bytes.
    let parts: usize = p.size_parts().iter().map(|(_, b)| b).sum();
    assert!(
        parts <= p.size_bytes() && parts + 64 >= p.size_bytes(),
        "{parts}"
    );
}

#[test]
fn batched_mlp_with_bias_and_residual_works() {
    // A graph that uses every op: matmul, bias, rescale, relu, add (residual), mul.
    use model::{GraphBuilder, Shape};
    let mut rng_model = mlp(&[8, 8], 3, 5).unwrap();
    let w = rng_model.weights.remove(0);
    let mut b = GraphBuilder::new("every-op", Shape::new(3, 8), 8).unwrap();
    let h = b.matmul(0, w).unwrap();
    let h = b.rescale(h, 7).unwrap();
    let r = b.relu(h).unwrap();
    let s = b.add(r, 0).unwrap();
    let q = b.mul(s, s).unwrap();
    let q = b.rescale(q, 8).unwrap();
    let g = b.build(q).unwrap();
    let m = CommittedModel::new(g, ProofConfig::default()).unwrap();
    let (x, y, p) = proved(&m, 9);
    verify(&m.vk, &x, &y, &p).unwrap();
}

#[test]
fn changed_input_fails() {
    let m = tiny();
    let (mut x, y, p) = proved(&m, 1);
    x.data[3] += 1;
    assert!(verify(&m.vk, &x, &y, &p).is_err());
}

#[test]
fn changed_output_fails() {
    let m = tiny();
    let (x, mut y, p) = proved(&m, 1);
    y.data[0] += 1;
    let err = verify(&m.vk, &x, &y, &p).unwrap_err();
    assert!(!matches!(err, VerifyError::Decode(_)), "{err}");
}

#[test]
fn flipped_and_truncated_bytes_fail_cleanly() {
    let m = tiny();
    let (x, y, proof) = proved(&m, 2);
    let file = ProofFile::new(&m, x, y, proof);
    let bytes = file.encode(ProofFormat::Binary).unwrap();
    let ok = ProofFile::decode(&bytes).unwrap();
    verify(&m.vk, &ok.input, &ok.output, &ok.proof).unwrap();
    // Flip one byte at many positions across the whole file.
    let step = (bytes.len() / 97).max(1);
    let mut rejected = 0;
    for pos in (12..bytes.len()).step_by(step) {
        let mut b = bytes.clone();
        b[pos] ^= 0x5a;
        match ProofFile::decode(&b) {
            Err(_) => rejected += 1,
            Ok(f) => {
                assert!(
                    verify(&m.vk, &f.input, &f.output, &f.proof).is_err(),
                    "flipped byte {pos} of {} accepted",
                    bytes.len()
                );
                rejected += 1;
            }
        }
    }
    assert!(rejected > 50);
    for cut in [0, 7, 12, bytes.len() / 2, bytes.len() - 1] {
        assert!(ProofFile::decode(&bytes[..cut]).is_err());
    }
    // JSON round trip too.
    let json = file.encode(ProofFormat::Json).unwrap();
    let f = ProofFile::decode(&json).unwrap();
    verify(&m.vk, &f.input, &f.output, &f.proof).unwrap();
}

#[test]
fn proof_for_another_model_fails() {
    let a = tiny();
    let b =
        CommittedModel::new(mlp(&[16, 8, 8, 4], 1, 8).unwrap(), ProofConfig::default()).unwrap();
    let (x, y, mut p) = proved(&a, 1);
    assert!(matches!(
        verify(&b.vk, &x, &y, &p),
        Err(VerifyError::WrongModel { .. })
    ));
    // Relabelling the proof with the other model's digest does not help.
    p.model_digest = b.vk.digest();
    assert!(verify(&b.vk, &x, &y, &p).is_err());
}

#[test]
fn one_changed_weight_fails() {
    let a = tiny();
    let mut g = a.graph.clone();
    g.weights[0].data[5] += 1;
    let changed = CommittedModel::new(g, ProofConfig::default()).unwrap();
    // An honest proof for the changed model does not verify against the original commitment,
    // even when relabelled with the original digest.
    let (x, y, mut p) = proved(&changed, 1);
    assert!(verify(&a.vk, &x, &y, &p).is_err());
    p.model_digest = a.vk.digest();
    assert!(verify(&a.vk, &x, &y, &p).is_err());
}

/// Runs a cheating prover whose trace is honest except that `forge` alters node `node` (every
/// later node is recomputed from the forged value); the proof must be rejected.
fn forged_rejected(m: &CommittedModel, node: usize, forge: impl Fn(&mut Tensor)) -> VerifyError {
    let x = random_input(&m.graph, 4);
    let trace = execute_forged(&m.graph, std::slice::from_ref(&x), node, forge).unwrap();
    let (y, p) = prove_trace(
        m,
        std::slice::from_ref(&x),
        &trace,
        &(),
        WitnessCheck::Lenient,
    )
    .unwrap();
    verify(&m.vk, &x, &y, &p).unwrap_err()
}

/// The honest value of every node on the input the forgery tests use.
fn honest(m: &CommittedModel) -> Trace {
    execute(&m.graph, &random_input(&m.graph, 4)).unwrap()
}

fn first(g: &model::Graph, kind: &str) -> usize {
    g.nodes.iter().position(|n| n.op.kind() == kind).unwrap()
}

#[test]
fn forged_matmul_output_fails() {
    let m = tiny();
    let err = forged_rejected(&m, first(&m.graph, "matmul"), |t| t.data[1] += 3);
    assert!(matches!(err, VerifyError::Layer { node: 1, .. }), "{err}");
}

#[test]
fn wrong_relu_output_fails() {
    let m = tiny();
    let id = first(&m.graph, "relu");
    let Op::Relu { input } = m.graph.nodes[id].op else {
        unreachable!()
    };
    // Make a negative input pass through unchanged (a "leaky" forgery).
    let x = honest(&m).values[input].clone();
    let i = x.data.iter().position(|&v| v < 0).unwrap();
    let err = forged_rejected(&m, id, |t| t.data[i] = x.data[i]);
    assert!(matches!(err, VerifyError::Lookup(_)), "{err}");
}

#[test]
fn wrong_rescale_remainder_fails() {
    let m = tiny();
    // The remainder is now off by 2^shift.
    let err = forged_rejected(&m, first(&m.graph, "rescale"), |t| t.data[0] += 1);
    assert!(matches!(err, VerifyError::Lookup(_)), "{err}");
}

#[test]
fn rescale_by_16_output_shifted_by_2_pow_15_fails() {
    // In M31, 2^16 * 2^15 = 2^31 = 1: the output y - 2^15 with the remainder plus one is a
    // second decomposition of the same field value. The output's range must shrink with the
    // shift (here to [-2^13, 2^13)) for the decomposition to be unique.
    use model::{GraphBuilder, Shape};
    let w = mlp(&[8, 8], 3, 5).unwrap().weights.remove(0);
    let mut b = GraphBuilder::new("rescale-16", Shape::new(2, 8), 9).unwrap();
    let h = b.matmul(0, w).unwrap();
    let h = b.rescale(h, 16).unwrap();
    let g = b.build(h).unwrap();
    let m = CommittedModel::new(g, ProofConfig::default()).unwrap();
    let (x, y, p) = proved(&m, 2);
    verify(&m.vk, &x, &y, &p).unwrap();
    let id = first(&m.graph, "rescale");
    let err = forged_rejected(&m, id, |t| {
        for v in &mut t.data {
            if *v >= 0 {
                *v -= 1 << 15;
            }
        }
    });
    assert!(matches!(err, VerifyError::Lookup(_)), "{err}");
}

#[test]
fn forged_advice_consistent_with_lookups_fails() {
    // Forge the relu output to a value that is a valid table row for a *different* input:
    // y = relu(x') with x' != x. The pair (x, y) is then not in the table.
    let m = tiny();
    let id = first(&m.graph, "relu");
    let Op::Relu { input } = m.graph.nodes[id].op else {
        unreachable!()
    };
    let i = honest(&m).values[input]
        .data
        .iter()
        .position(|&v| v > 0)
        .unwrap();
    let err = forged_rejected(&m, id, |t| t.data[i] += 1);
    assert!(matches!(err, VerifyError::Lookup(_)), "{err}");
}

#[test]
fn wrong_shapes_and_ranges_fail_cleanly() {
    let m = tiny();
    let (x, y, p) = proved(&m, 1);
    let short = Tensor::new(model::Shape::new(1, 3), vec![0; 3]);
    assert!(matches!(
        verify(&m.vk, &short, &y, &p),
        Err(VerifyError::InputShape { .. })
    ));
    assert!(matches!(
        verify(&m.vk, &x, &short, &p),
        Err(VerifyError::OutputShape { .. })
    ));
    let mut big = y.clone();
    big.data[0] = 1 << 40;
    assert!(matches!(
        verify(&m.vk, &x, &big, &p),
        Err(VerifyError::PublicRange { .. })
    ));
}

#[test]
fn security_level_is_at_least_96_bits() {
    let m = tiny();
    let bits = m.vk.config.security_bits(m.circuit.algebraic_error_log());
    assert!(bits >= 96, "{bits}");
    let big =
        CommittedModel::new(examples::by_name("mlp").unwrap(), ProofConfig::default()).unwrap();
    assert!(
        big.vk
            .config
            .security_bits(big.circuit.algebraic_error_log())
            >= 96
    );
}

#[test]
fn cached_commitment_matches_fresh_one() {
    use zkml::CacheStatus;
    let dir = std::env::temp_dir().join(format!("stwo-ml-cache-test-{}", std::process::id()));
    let g = examples::by_name("tiny-mlp").unwrap();
    let (a, s1) =
        CommittedModel::load_or_commit(g.clone(), ProofConfig::default(), Some(&dir)).unwrap();
    assert_eq!(s1, CacheStatus::Stored);
    let (b, s2) =
        CommittedModel::load_or_commit(g.clone(), ProofConfig::default(), Some(&dir)).unwrap();
    assert_eq!(s2, CacheStatus::Loaded);
    assert_eq!(a.vk, b.vk);
    // A proof made with the cached commitment verifies against the fresh key.
    let (x, y, p) = proved(&b, 5);
    verify(&a.vk, &x, &y, &p).unwrap();
    // Another model never picks up this cache entry.
    let mut g2 = g;
    g2.weights[1].data[0] += 1;
    let (_, s3) = CommittedModel::load_or_commit(g2, ProofConfig::default(), Some(&dir)).unwrap();
    assert_eq!(s3, CacheStatus::Stored);
    std::fs::remove_dir_all(&dir).ok();
}

/// `S = rescale(Q K^T)`, `O = rescale(S V)` with `Q, K, V` projections of the input: the two
/// activation-by-activation products of attention (softmax comes with the transformer layers).
fn attention_core(seq: usize, d: usize) -> CommittedModel {
    use model::{GraphBuilder, Shape};
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(3);
    let mut b = GraphBuilder::new("attention-core", Shape::new(seq, d), 8).unwrap();
    let mut proj = |b: &mut GraphBuilder, name: &str| {
        let w = examples::random_weight(name, d, d, &mut rng);
        let h = b.matmul(0, w).unwrap();
        b.rescale(h, 7).unwrap()
    };
    let q = proj(&mut b, "wq");
    let k = proj(&mut b, "wk");
    let v = proj(&mut b, "wv");
    let s = b.matmul_act(q, k, true).unwrap();
    let s = b.rescale(s, 12).unwrap();
    let o = b.matmul_act(s, v, false).unwrap();
    let o = b.rescale(o, 8).unwrap();
    let g = b.build(o).unwrap();
    CommittedModel::new(g, ProofConfig::default()).unwrap()
}

#[test]
fn activation_products_work() {
    let m = attention_core(4, 16);
    let (x, y, p) = proved(&m, 6);
    verify(&m.vk, &x, &y, &p).unwrap();
}

#[test]
fn forged_attention_scores_fail() {
    let m = attention_core(4, 16);
    let err = forged_rejected(&m, first(&m.graph, "matmul_act"), |t| t.data[2] += 5);
    assert!(matches!(err, VerifyError::Layer { .. }), "{err}");
}

/// A SwiGLU feed-forward block: `W2 (silu(x W1) * (x W3))`, every step rescaled.
fn swiglu(seq: usize, d: usize, ffn: usize) -> CommittedModel {
    use model::{Func, GraphBuilder, Shape};
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(4);
    let mut b = GraphBuilder::new("swiglu", Shape::new(seq, d), 8).unwrap();
    let w1 = examples::random_weight("w1", d, ffn, &mut rng);
    let w3 = examples::random_weight("w3", d, ffn, &mut rng);
    let w2 = examples::random_weight("w2", ffn, d, &mut rng);
    let h1 = b.matmul(0, w1).unwrap();
    let h1 = b.rescale(h1, 7).unwrap();
    let h3 = b.matmul(0, w3).unwrap();
    let h3 = b.rescale(h3, 7).unwrap();
    let g = b.activation(h1, Func::Silu, 8).unwrap();
    let p = b.mul(g, h3).unwrap();
    let p = b.rescale(p, 8).unwrap();
    let o = b.matmul(p, w2).unwrap();
    let o = b.rescale(o, 7).unwrap();
    let o = b.activation(o, Func::Gelu, 8).unwrap();
    let g = b.build(o).unwrap();
    CommittedModel::new(g, ProofConfig::default()).unwrap()
}

#[test]
fn swiglu_with_committed_function_tables_works() {
    let m = swiglu(2, 16, 32);
    let (x, y, p) = proved(&m, 8);
    verify(&m.vk, &x, &y, &p).unwrap();
}

#[test]
fn wrong_silu_output_fails() {
    let m = swiglu(2, 16, 32);
    let err = forged_rejected(&m, first(&m.graph, "lookup"), |t| t.data[3] += 1);
    assert!(matches!(err, VerifyError::Lookup(_)), "{err}");
}
