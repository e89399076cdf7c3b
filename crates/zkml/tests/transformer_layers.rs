//! Transformer building blocks proved end to end, and a cheating prover for each relation.
#![allow(clippy::unwrap_used)]

use model::examples::{self, random_input};
use model::execute::execute_forged;
use model::{Func, Graph, GraphBuilder, Shape, Weight};
use zkml::prover::{prove_trace, WitnessCheck};
use zkml::{prove, verify, CommittedModel, ProofConfig, VerifyError};

/// RMSNorm -> RoPE (2 heads of 8) on a 4 x 16 input at positions 5..9 (tables for exactly
/// these positions), then a SiLU.
fn block() -> CommittedModel {
    block_at(5)
}

/// [`block`] at positions `pos0..`.
fn block_at(pos0: usize) -> CommittedModel {
    let mut b = GraphBuilder::new("norm-rope", Shape::new(4, 16), 8).unwrap();
    let gain = Weight {
        name: "norm.weight".into(),
        shape: Shape::new(1, 16),
        scale: 8,
        data: (0..16).map(|i| 200 + 7 * i).collect(),
    };
    let n = b.rms_norm(0, gain, 1e-5).unwrap();
    let r = b.rope(n, 3, 10000.0, pos0).unwrap();
    let y = b.activation(r, Func::Silu, 8).unwrap();
    let g = b.build(y).unwrap();
    CommittedModel::new(g, ProofConfig::default()).unwrap()
}

fn node_of(g: &Graph, kind: &str) -> usize {
    g.nodes.iter().position(|n| n.op.kind() == kind).unwrap()
}

fn cheat(m: &CommittedModel, node: usize, delta: i64, at: usize) -> VerifyError {
    let x = random_input(&m.graph, 2);
    let trace = execute_forged(&m.graph, std::slice::from_ref(&x), node, |t| {
        t.data[at] += delta
    })
    .unwrap();
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

#[test]
fn rms_norm_rope_silu_works() {
    let m = block();
    let x = random_input(&m.graph, 2);
    let (y, p) = prove(&m, &x, &()).unwrap();
    verify(&m.vk, &x, &y, &p).unwrap();
}

#[test]
fn rms_norm_matches_float() {
    let mut b = GraphBuilder::new("rms", Shape::new(2, 16), 8).unwrap();
    let gain = Weight {
        name: "g".into(),
        shape: Shape::new(1, 16),
        scale: 8,
        data: (0..16).map(|i| 200 + 7 * i).collect(),
    };
    let n = b.rms_norm(0, gain, 1e-5).unwrap();
    let g = b.build(n).unwrap();
    let m = CommittedModel::new(g, ProofConfig::default()).unwrap();
    let x = random_input(&m.graph, 4);
    let (y, p) = prove(&m, &x, &()).unwrap();
    verify(&m.vk, &x, &y, &p).unwrap();
    for r in 0..2 {
        let row: Vec<f64> = (0..16).map(|c| x.get(r, c) as f64 / 256.0).collect();
        let ms = row.iter().map(|v| v * v).sum::<f64>() / 16.0;
        for c in 0..16 {
            let want = row[c] / (ms + 1e-5).sqrt() * (200 + 7 * c) as f64 / 256.0;
            let got = y.get(r, c) as f64 / 256.0;
            assert!(
                (got - want).abs() < 0.05,
                "row {r} col {c}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn wrong_rsqrt_fails() {
    let m = block();
    let id = m
        .graph
        .nodes
        .iter()
        .position(|n| matches!(n.op, model::Op::Lookup { .. }))
        .unwrap();
    let err = cheat(&m, id, 3, 1);
    assert!(matches!(err, VerifyError::Lookup(_)), "{err}");
}

#[test]
fn wrong_rotation_fails() {
    let m = block();
    let err = cheat(&m, node_of(&m.graph, "rotate_half"), 1, 5);
    assert!(matches!(err, VerifyError::Layer { .. }), "{err}");
}

#[test]
fn wrong_row_sum_and_mean_fail() {
    let m = block();
    let err = cheat(&m, node_of(&m.graph, "row_sum"), 1, 0);
    assert!(matches!(err, VerifyError::Layer { .. }), "{err}");
    let err = cheat(&m, node_of(&m.graph, "mul_column"), 1, 0);
    assert!(matches!(err, VerifyError::Layer { .. }), "{err}");
    let err = cheat(&m, node_of(&m.graph, "add_const"), 1, 0);
    // Its input is committed advice (a rescale output): the claim fails at the opening.
    assert!(matches!(err, VerifyError::Opening(_)), "{err}");
}

#[test]
fn tampered_gain_or_rope_table_fails() {
    // A proof for the model with a different RoPE table does not verify for this one.
    let m = block();
    let mut g = m.graph.clone();
    let w = g
        .weights
        .iter()
        .position(|w| w.name.starts_with("rope/sin"))
        .unwrap();
    g.weights[w].data[3] += 1;
    let other = CommittedModel::new(g, ProofConfig::default()).unwrap();
    let x = random_input(&other.graph, 2);
    let (y, mut p) = prove(&other, &x, &()).unwrap();
    p.model_digest = m.vk.digest();
    assert!(verify(&m.vk, &x, &y, &p).is_err());
    let _ = examples::NAMES;
}

#[test]
fn shared_rope_tables_prove_and_reject_forgeries() {
    // Positions 4..8: an aligned block, read from the shared 256 x 8 tables.
    let m = block_at(4);
    let tables: Vec<_> = m
        .graph
        .weights
        .iter()
        .filter(|w| w.name.starts_with("rope/"))
        .collect();
    assert_eq!(tables.len(), 2);
    assert!(tables.iter().all(|w| w.shape == Shape::new(256, 8)));
    let x = random_input(&m.graph, 2);
    let (y, p) = prove(&m, &x, &()).unwrap();
    verify(&m.vk, &x, &y, &p).unwrap();
    // The rotated product off by one entry.
    let err = cheat(&m, node_of(&m.graph, "mul_weight_rows"), 1, 9);
    assert!(matches!(err, VerifyError::Layer { .. }), "{err}");
    // The same positions' rows read from block 0 instead (positions 0..4) give another output.
    let wrong = block_at(0);
    assert_eq!(
        wrong.vk.weights, m.vk.weights,
        "one commitment for every position"
    );
    let (y0, _) = prove(&wrong, &x, &()).unwrap();
    assert_ne!(y0, y);
    // A proof made at positions 0..4 does not verify as one at positions 4..8.
    let (_, mut p0) = prove(&wrong, &x, &()).unwrap();
    p0.model_digest = m.vk.digest();
    assert!(verify(&m.vk, &x, &y0, &p0).is_err());
}

/// LayerNorm -> GELU on a 3 x 12 input (padded columns exercise the masks).
fn layer_norm_model() -> CommittedModel {
    let mut b = GraphBuilder::new("layer-norm", Shape::new(3, 12), 8).unwrap();
    let gain = Weight {
        name: "ln.weight".into(),
        shape: Shape::new(1, 12),
        scale: 8,
        data: (0..12).map(|i| 240 + 3 * i).collect(),
    };
    let bias = Weight {
        name: "ln.bias".into(),
        shape: Shape::new(1, 12),
        scale: 8,
        data: (0..12).map(|i| i * 5 - 30).collect(),
    };
    let n = b.layer_norm(0, gain, bias, 1e-5).unwrap();
    let y = b.activation(n, Func::Gelu, 8).unwrap();
    let g = b.build(y).unwrap();
    CommittedModel::new(g, ProofConfig::default()).unwrap()
}

#[test]
fn layer_norm_works_and_matches_float() {
    let m = layer_norm_model();
    let x = random_input(&m.graph, 3);
    let (y, p) = prove(&m, &x, &()).unwrap();
    verify(&m.vk, &x, &y, &p).unwrap();
    // Float reference of the same LayerNorm + GELU.
    let scale = 256.0;
    for r in 0..3 {
        let row: Vec<f64> = (0..12).map(|c| x.get(r, c) as f64 / scale).collect();
        let mean = row.iter().sum::<f64>() / 12.0;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 12.0;
        for c in 0..12 {
            let g = (240 + 3 * c) as f64 / scale;
            let b = (c as f64 * 5.0 - 30.0) / scale;
            let z = (row[c] - mean) / (var + 1e-5).sqrt() * g + b;
            let want = Func::Gelu.eval(z);
            let got = y.get(r, c) as f64 / scale;
            assert!(
                (got - want).abs() < 0.06,
                "row {r} col {c}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn wrong_mean_broadcast_fails() {
    let m = layer_norm_model();
    let err = cheat(&m, node_of(&m.graph, "broadcast_column"), 1, 4);
    assert!(matches!(err, VerifyError::Layer { .. }), "{err}");
}

/// Grouped-query attention without the softmax: 4 query heads sharing 2 KV heads of width 8,
/// per-head `Q K^T` and `S V`, heads concatenated and projected.
fn gqa_core() -> CommittedModel {
    let (seq, d, heads, kv, hd) = (4usize, 16usize, 4usize, 2usize, 8usize);
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(9);
    let mut b = GraphBuilder::new("gqa-core", Shape::new(seq, d), 8).unwrap();
    let mut proj = |b: &mut GraphBuilder, name: &str, out: usize| {
        let w = examples::random_weight(name, d, out, &mut rng);
        let h = b.matmul(0, w).unwrap();
        b.rescale(h, 7).unwrap()
    };
    let q = proj(&mut b, "wq", heads * hd);
    let k = proj(&mut b, "wk", kv * hd);
    let v = proj(&mut b, "wv", kv * hd);
    let mut outs = Vec::new();
    for h in 0..heads {
        let g = h / (heads / kv);
        let qh = b.column_slice(q, h * hd, hd).unwrap();
        let kg = b.column_slice(k, g * hd, hd).unwrap();
        let vg = b.column_slice(v, g * hd, hd).unwrap();
        let s = b.matmul_act(qh, kg, true).unwrap();
        let s = b.rescale(s, 11).unwrap();
        let o = b.matmul_act(s, vg, false).unwrap();
        outs.push(b.rescale(o, 5).unwrap());
    }
    let o = b.concat_columns(&outs).unwrap();
    let wo = examples::random_weight("wo", heads * hd, d, &mut rng);
    let y = b.matmul(o, wo).unwrap();
    let y = b.rescale(y, 7).unwrap();
    CommittedModel::new(b.build(y).unwrap(), ProofConfig::default()).unwrap()
}

#[test]
fn gqa_heads_slice_and_concat_work() {
    let m = gqa_core();
    let x = random_input(&m.graph, 5);
    let (y, p) = prove(&m, &x, &()).unwrap();
    verify(&m.vk, &x, &y, &p).unwrap();
}

#[test]
fn forged_head_slice_or_concat_fails() {
    let m = gqa_core();
    // A slice reads a committed rescale output: the claim it passes down is wrong for the
    // committed advice, so the opening rejects it. A concatenation is caught at its own layer.
    let err = cheat(&m, node_of(&m.graph, "column_slice"), 1, 3);
    assert!(matches!(err, VerifyError::Opening(_)), "{err}");
    let err = cheat(&m, node_of(&m.graph, "concat_columns"), 1, 7);
    assert!(matches!(err, VerifyError::Layer { .. }), "{err}");
}

#[test]
fn exp_and_sigmoid_on_padded_tensors_work() {
    // 3 x 5 pads to 4 x 8; exp(0) and sigmoid(0) are not 0, so padding must not be looked up.
    let mut b = GraphBuilder::new("exp-sigmoid", Shape::new(3, 5), 8).unwrap();
    let e = b.activation(0, Func::Sigmoid, 8).unwrap();
    let half = b.rescale(0, 1).unwrap();
    let x = b.activation(half, Func::Exp, 6).unwrap();
    let out = b_add(&mut b, e, x);
    let g = b.build(out).unwrap();
    let m = CommittedModel::new(g, ProofConfig::default()).unwrap();
    let x = random_input(&m.graph, 6);
    let (y, p) = prove(&m, &x, &()).unwrap();
    verify(&m.vk, &x, &y, &p).unwrap();
}

fn b_add(b: &mut GraphBuilder, lhs: usize, rhs: usize) -> usize {
    let l = b.rescale(lhs, 2).unwrap();
    b.add(l, rhs).unwrap()
}
