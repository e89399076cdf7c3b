//! Proofs over wide-range fixed point ([`model::wide`]): a massive row through the wide
//! RMSNorm, a limb-split matmul and a wide rescale proves and verifies; a cheating prover
//! that moves a limb, a row factor or a table output is rejected.
#![allow(clippy::unwrap_used)]

use model::execute::execute_forged;
use model::norm::NormRange;
use model::{execute, Graph, GraphBuilder, Op, Shape, Tensor, Weight};
use zkml::prover::{prove_trace, WitnessCheck};
use zkml::{prove, verify, CommittedModel, ProofConfig};

const S: u32 = 8;
const MUL: i64 = 256;
const ROWS: usize = 4;
const COLS: usize = 64;

fn pseudo(i: usize) -> f64 {
    ((i as f64 * 0.618_033_988_7).fract() - 0.5) * 2.0
}

/// Row 0 massive (one channel at 24,000 real units once multiplied by `MUL`), the others with
/// rms 4 to 100.
fn input() -> Tensor {
    let rms = [30.0, 4.0, 10.0, 100.0];
    let data = (0..ROWS * COLS)
        .map(|i| {
            let (r, c) = (i / COLS, i % COLS);
            let v = match (r, c) {
                (0, 3) => 24_000.0,
                _ => rms[r] * 1.3 * pseudo(i),
            };
            (v * f64::from(1 << S) / MUL as f64).round() as i64
        })
        .collect();
    Tensor::new(Shape::new(ROWS, COLS), data)
}

/// `x = input * MUL` (wide), its wide RMSNorm, the square of that split into limbs through a
/// matmul, plus a wide rescale of `x` folded in by a second matmul.
fn graph() -> Graph {
    let x = input();
    let real: Vec<f32> = x
        .data
        .iter()
        .map(|&v| (v * MUL) as f32 / (1 << S) as f32)
        .collect();
    let range = NormRange::observe(&real, COLS).unwrap();
    let mut b = GraphBuilder::new("wide", Shape::new(ROWS, COLS), S).unwrap();
    let wide = b.mul_const(0, MUL, 0).unwrap();
    let gain = Weight {
        name: "gain".into(),
        shape: Shape::new(1, COLS),
        scale: S,
        data: (0..COLS).map(|c| 200 + c as i64).collect(),
    };
    let h = b.rms_norm_wide(wide, gain, 1e-5, &range).unwrap();
    let prod = b.mul(h, h).unwrap();
    let (hi, lo) = b.rescale_limbs(prod, S).unwrap();
    let w = Weight {
        name: "w".into(),
        shape: Shape::new(COLS, 16),
        scale: 7,
        data: (0..COLS * 16)
            .map(|i| (pseudo(i + 5) * 100.0) as i64)
            .collect(),
    };
    let y = b.matmul_wide_input(hi.unwrap(), lo, &w, S).unwrap();
    let r = b.rescale_wide(wide, 4).unwrap();
    let w2 = Weight {
        name: "w2".into(),
        shape: Shape::new(COLS, 16),
        scale: 2,
        data: (0..COLS * 16)
            .map(|i| (pseudo(i + 9) * 3.5) as i64)
            .collect(),
    };
    let z = b.matmul(r, w2).unwrap();
    let z = b.to_scale(z, S, false).unwrap();
    let out = b.add(y, z).unwrap();
    b.build(out).unwrap()
}

fn committed() -> CommittedModel {
    CommittedModel::new(graph(), ProofConfig::default()).unwrap()
}

#[test]
fn wide_graph_proves_and_verifies() {
    let m = committed();
    let x = input();
    let trace = execute(&m.graph, &x).unwrap();
    // The wide values are there: x reaches 2^22 and its wide rescale 2^18.
    let top = |id: usize| trace.values[id].data.iter().map(|v| v.abs()).max().unwrap();
    assert!(top(1) > 1 << 22, "{}", top(1));
    let (y, p) = prove(&m, &x, &()).unwrap();
    verify(&m.vk, &x, &y, &p).unwrap();
    let mut wrong = y.clone();
    wrong.data[0] += 1;
    assert!(verify(&m.vk, &x, &wrong, &p).is_err());
}

/// A prover that alters node `node` (later nodes recomputed from it) is rejected.
fn forged_rejected(node: usize, forge: impl Fn(&mut Tensor)) {
    let m = committed();
    let x = input();
    let trace = execute_forged(&m.graph, std::slice::from_ref(&x), node, forge).unwrap();
    let (y, p) = prove_trace(
        &m,
        std::slice::from_ref(&x),
        &trace,
        &(),
        WitnessCheck::Lenient,
    )
    .unwrap();
    let op = m.graph.nodes[node].op.kind();
    assert!(
        verify(&m.vk, &x, &y, &p).is_err(),
        "forged {op} {node} accepted"
    );
}

fn lookup_of(g: &Graph, table: &str) -> usize {
    g.nodes
        .iter()
        .position(
            |n| matches!(n.op, Op::Lookup { table: t, .. } if g.weights[t].name.starts_with(table)),
        )
        .unwrap()
}

#[test]
fn a_moved_limb_is_rejected() {
    // hi + 1 with lo recomputed (lo - 2^L): the wide value is unchanged, but the high limb's
    // remainder leaves its range.
    let g = graph();
    let hi = g
        .nodes
        .iter()
        .position(|n| matches!(n.op, Op::Rescale { shift, .. } if shift == 16))
        .unwrap();
    forged_rejected(hi, |t| t.data[0] += 1);
}

#[test]
fn a_forged_row_factor_or_table_output_is_rejected() {
    let g = graph();
    // A larger factor for the massive row (a different window, the same norm if unchecked).
    forged_rejected(lookup_of(&g, "wide/p_hi"), |t| t.data[0] *= 2);
    forged_rejected(lookup_of(&g, "wide/is_zero"), |t| t.data[1] = 1 - t.data[1]);
    forged_rejected(lookup_of(&g, "wide/eps_lo"), |t| t.data[1] += 1);
}

/// LayerNorm on rows beyond the plain norm (an outlier channel of 300 real units at 2^-6,
/// other rows with rms 0.5 to 30: mean squares 2^16 apart) takes the wide normalisation: it
/// matches the real-valued LayerNorm, proves, and a forged output is rejected.
#[test]
fn layer_norm_of_outlier_rows_is_wide_accurate_and_proved() {
    let (s, cols) = (6u32, 64usize);
    let rms = [30.0, 0.5, 4.0, 12.0];
    let reals: Vec<f64> = (0..ROWS * cols)
        .map(|i| match (i / cols, i % cols) {
            (0, 5) => 300.0,
            (r, _) => rms[r] * 1.3 * pseudo(i),
        })
        .collect();
    let x = Tensor::new(
        Shape::new(ROWS, cols),
        reals
            .iter()
            .map(|v| (v * f64::from(1 << s)).round() as i64)
            .collect(),
    );
    let centred: Vec<f32> = reals
        .chunks(cols)
        .flat_map(|row| {
            let mean = row.iter().sum::<f64>() / cols as f64;
            row.iter().map(move |v| (v - mean) as f32)
        })
        .collect();
    let range = NormRange::observe(&centred, cols).unwrap();
    assert!(range.needs_wide(s), "{range:?}");
    let mut b = GraphBuilder::new("ln-wide", Shape::new(ROWS, cols), s).unwrap();
    let w = |name: &str, scale, v: i64| Weight {
        name: name.into(),
        shape: Shape::new(1, cols),
        scale,
        data: vec![v; cols].into(),
    };
    let y = b
        .layer_norm_in(0, w("gain", 4, 16), w("bias", s, 0), 1e-12, &range)
        .unwrap();
    let g = b.build(y).unwrap();
    let trace = execute(&g, &x).unwrap();
    let got = trace.output(&g);
    let out_scale = f64::from(1u32 << g.nodes[g.output].scale);
    for (r, row) in reals.chunks(cols).enumerate() {
        let mean = row.iter().sum::<f64>() / cols as f64;
        let sd = (row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / cols as f64).sqrt();
        for (c, v) in row.iter().enumerate() {
            let want = (v - mean) / sd;
            let have = got.data[r * cols + c] as f64 / out_scale;
            assert!(
                (have - want).abs() < 0.05,
                "row {r} col {c}: {have} vs {want}"
            );
        }
    }
    let m = CommittedModel::new(g, ProofConfig::default()).unwrap();
    let (out, proof) = prove(&m, &x, &()).unwrap();
    verify(&m.vk, &x, &out, &proof).unwrap();
    let last = m.graph.output;
    let trace =
        execute_forged(&m.graph, std::slice::from_ref(&x), last, |t| t.data[7] += 1).unwrap();
    let (y, p) = prove_trace(
        &m,
        std::slice::from_ref(&x),
        &trace,
        &(),
        WitnessCheck::Lenient,
    )
    .unwrap();
    assert!(verify(&m.vk, &x, &y, &p).is_err());
}
