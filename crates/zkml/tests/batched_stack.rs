//! Block batching: `N` decoder blocks of one shape stacked into one graph and proved in one GKR
//! pass (block-diagonal matmuls with `log2 N` extra rounds, the chain of block inputs bound by
//! the committed stacked input). The result must equal the blocks run one after another, and a
//! broken chain, swapped block weights or a wrong statement must be rejected.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use model::examples::random_input;
use model::execute::{execute, execute_all, execute_forged};
use model::softmax::SOFTMAX_BITS;
use model::stack::{block_of, stack_blocks, stack_traces};
use model::transformer::{batched_transformer, transformer, BlockWeights, TransformerConfig};
use model::{GraphBuilder, GraphError, Shape, Tensor, Trace};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use zkml::proof::{LayerProof, ProofFile};
use zkml::prover::{prove_trace, WitnessCheck};
use zkml::{prove, verify, CommittedModel, ProofConfig, ProofFormat, VerifyError};

const CFG: TransformerConfig = model::transformer::TINY_DECODER;

fn blocks(n: usize, seed: u64) -> Vec<BlockWeights> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|l| BlockWeights::random(&CFG, l, &mut rng))
        .collect()
}

/// Runs block `b` of the stack on `x` as an ordinary graph.
fn run_block(m: &CommittedModel, b: usize, x: &Tensor) -> Trace {
    let block = block_of(&m.graph, b).unwrap();
    execute_all(&block, std::slice::from_ref(x)).unwrap()
}

/// Proves a (possibly inconsistent) stacked trace with public input `x`; the verifier's word.
fn verify_trace(m: &CommittedModel, x: &Tensor, traces: Vec<Trace>) -> Result<(), VerifyError> {
    let trace = stack_traces(traces);
    let inputs = std::slice::from_ref(x);
    let (y, p) = prove_trace(m, inputs, &trace, &(), WitnessCheck::Lenient).unwrap();
    verify(&m.vk, x, &y, &p)
}

#[test]
fn four_stacked_blocks_prove_and_equal_the_blocks_in_sequence() {
    let w = blocks(4, 7);
    let sequential = transformer("seq", &CFG, None, &w).unwrap();
    let x = random_input(&sequential, 3);
    let want = execute(&sequential, &x).unwrap();
    let want = want.output(&sequential);

    let g = batched_transformer("stack4", &CFG, &w).unwrap();
    assert_eq!(g.log_blocks, 2);
    assert_eq!(g.input_shape(), x.shape);
    let m = CommittedModel::new(g, ProofConfig::default()).unwrap();
    let t = Instant::now();
    let (y, proof) = prove(&m, &x, &()).unwrap();
    let proving = t.elapsed();
    assert_eq!(&y, want, "the stack computes the blocks in sequence");
    let t = Instant::now();
    verify(&m.vk, &x, &y, &proof).unwrap();
    eprintln!(
        "4 stacked blocks (d 64, seq 8): prove {proving:.2?}, verify {:.2?}, proof {} bytes, \
         {} chain values",
        t.elapsed(),
        proof.size_bytes(),
        proof.chain.0.len()
    );
    assert_eq!(proof.chain.0.len(), 3);

    // One GKR walk: the node proofs of one block, each matmul with log2(4) = 2 more rounds.
    let single = CommittedModel::new(
        transformer("one", &CFG, None, &w[..1]).unwrap(),
        ProofConfig::default(),
    )
    .unwrap();
    let (_, one) = prove(&single, &x, &()).unwrap();
    assert_eq!(one.nodes.len(), proof.nodes.len());
    let mut matmuls = 0;
    for (a, b) in one.nodes.iter().zip(&proof.nodes) {
        assert_eq!(a.node, b.node);
        if let (LayerProof::MatMul(a), LayerProof::MatMul(b)) = (&a.layer, &b.layer) {
            let rounds = |p: &gkr::matmul::MatMulProof| p.sumcheck.round_polys.len();
            assert_eq!(rounds(b), rounds(a) + 2);
            matmuls += 1;
        }
    }
    assert!(matmuls >= 7, "{matmuls} matmuls");

    // The statement: another output, another input.
    let mut wrong = y.clone();
    wrong.data[5] += 1;
    assert!(verify(&m.vk, &x, &wrong, &proof).is_err());
    let mut other = x.clone();
    other.data[0] += 1;
    assert!(verify(&m.vk, &other, &y, &proof).is_err());
    // Block 2's claimed input at the chain point.
    let mut forged = proof.clone();
    let first = forged.chain.0[0];
    forged.chain.0[1] += first;
    assert!(verify(&m.vk, &x, &y, &forged).is_err());
    let mut short = proof.clone();
    short.chain.0.pop();
    assert!(matches!(
        verify(&m.vk, &x, &y, &short),
        Err(VerifyError::MalformedProof(_))
    ));
    // Tampered bytes across the proof file.
    let bytes = ProofFile::new(&m, x.clone(), y.clone(), proof)
        .encode(ProofFormat::Binary)
        .unwrap();
    for at in (12..bytes.len()).step_by(bytes.len() / 41) {
        let mut b = bytes.clone();
        b[at] ^= 0x5a;
        let accepted = ProofFile::decode(&b)
            .is_ok_and(|f| verify(&m.vk, &f.input, &f.output, &f.proof).is_ok());
        assert!(!accepted, "flipped byte {at} of {} accepted", bytes.len());
    }
}

#[test]
fn a_broken_chain_is_rejected() {
    let g = batched_transformer("stack4", &CFG, &blocks(4, 9)).unwrap();
    let m = CommittedModel::new(g, ProofConfig::default()).unwrap();
    let x = random_input(&m.graph, 4);
    // Each block is run honestly, but block 2 starts from block 1's output plus one.
    let mut traces = Vec::new();
    let mut h = x.clone();
    for b in 0..4 {
        if b == 2 {
            h.data[3] += 1;
        }
        let t = run_block(&m, b, &h);
        h = t.values[m.graph.output].clone();
        traces.push(t);
    }
    assert!(verify_trace(&m, &x, traces).is_err());

    // Block 0 run on another input than the public one.
    let mut x2 = x.clone();
    x2.data[10] -= 1;
    let mut traces = Vec::new();
    let mut h = x2;
    for b in 0..4 {
        let t = run_block(&m, b, &h);
        h = t.values[m.graph.output].clone();
        traces.push(t);
    }
    assert!(verify_trace(&m, &x, traces).is_err());

    // The honest chain through the same helper verifies (the helper itself is sound).
    let mut traces = Vec::new();
    let mut h = x.clone();
    for b in 0..4 {
        let t = run_block(&m, b, &h);
        h = t.values[m.graph.output].clone();
        traces.push(t);
    }
    verify_trace(&m, &x, traces).unwrap();
}

#[test]
fn blocks_run_with_swapped_weights_are_rejected() {
    let w = blocks(2, 11);
    let m = CommittedModel::new(
        batched_transformer("stack2", &CFG, &w).unwrap(),
        ProofConfig::default(),
    )
    .unwrap();
    let swapped = batched_transformer("stack2", &CFG, &[w[1].clone(), w[0].clone()]).unwrap();
    let x = random_input(&m.graph, 5);
    let honest = execute(&m.graph, &x).unwrap();
    let (y, p) = prove(&m, &x, &()).unwrap();
    verify(&m.vk, &x, &y, &p).unwrap();
    // The same stack with the two blocks' weights exchanged: a trace of another model.
    let trace = execute(&swapped, &x).unwrap();
    assert_ne!(trace.values[m.graph.output], honest.values[m.graph.output]);
    let (y2, p2) = prove_trace(
        &m,
        std::slice::from_ref(&x),
        &trace,
        &(),
        WitnessCheck::Lenient,
    )
    .unwrap();
    assert!(verify(&m.vk, &x, &y2, &p2).is_err());
}

#[test]
fn stacks_that_cannot_be_batched_are_refused() {
    let w = blocks(3, 1);
    let three = batched_transformer("s", &CFG, &w);
    assert!(matches!(three, Err(GraphError::ShapeMismatch { .. })));
    let odd = TransformerConfig { seq_len: 6, ..CFG };
    let w2 = blocks(2, 1);
    assert!(batched_transformer("s", &odd, &w2).is_err());
    // Blocks whose norm ranges (and so tables and constants) differ.
    let mut w3 = blocks(2, 2);
    w3[1].ranges.attn.ms_max_log2 += 2;
    assert!(batched_transformer("s", &CFG, &w3).is_err());
    // A graph with an embedding.
    let (emb, w4) = model::transformer::random_transformer(&CFG, 16, 1, 3);
    let g = transformer("e", &TransformerConfig { ..CFG }, Some(emb), &w4).unwrap();
    assert!(stack_blocks("s", &[g.clone(), g]).is_err());
}

#[test]
fn per_head_norm_gains_batch_at_two_positions() {
    // Qwen3's q_norm / k_norm gains (1 x head_dim per block, stacked 2 x head_dim), the
    // shortest batched sequence (2 rows per block).
    let cfg = TransformerConfig { seq_len: 2, ..CFG };
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let w: Vec<BlockWeights> = (0..2)
        .map(|l| {
            let mut b = BlockWeights::random(&cfg, l, &mut rng);
            let gain = |name: &str, k: i64| model::Weight {
                name: format!("blk{l}.{name}"),
                shape: model::Shape::new(1, cfg.head_dim),
                scale: model::examples::ACT_SCALE,
                data: (0..cfg.head_dim as i64)
                    .map(|i| 200 + (i * k + l as i64 * 29) % 113)
                    .collect(),
            };
            b.q_norm = Some(gain("q_norm", 37));
            b.k_norm = Some(gain("k_norm", 53));
            b
        })
        .collect();
    let sequential = transformer("seq", &cfg, None, &w).unwrap();
    let x = random_input(&sequential, 8);
    let want = execute(&sequential, &x).unwrap();
    let m = CommittedModel::new(
        batched_transformer("s", &cfg, &w).unwrap(),
        ProofConfig::default(),
    )
    .unwrap();
    let (y, proof) = prove(&m, &x, &()).unwrap();
    assert_eq!(&y, want.output(&sequential));
    verify(&m.vk, &x, &y, &proof).unwrap();

    // Block 1 run with block 0's q_norm gain: rejected.
    let mut w2 = w.clone();
    w2[1].q_norm = w[0].q_norm.clone().map(|g| model::Weight {
        name: "blk1.q_norm".into(),
        ..g
    });
    let forged = execute(&batched_transformer("s", &cfg, &w2).unwrap(), &x).unwrap();
    let inputs = std::slice::from_ref(&x);
    let (y2, p2) = prove_trace(&m, inputs, &forged, &(), WitnessCheck::Lenient).unwrap();
    assert_ne!(y2, y);
    assert!(verify(&m.vk, &x, &y2, &p2).is_err());
}

#[test]
fn the_causal_mask_restarts_in_every_block() {
    let block = || {
        let mut b = GraphBuilder::new("sm", Shape::new(8, 8), SOFTMAX_BITS).unwrap();
        let p = b.softmax(0, true).unwrap();
        b.build(p).unwrap()
    };
    let g = stack_blocks("softmax2", &[block(), block()]).unwrap();
    let m = CommittedModel::new(g, ProofConfig::default()).unwrap();
    let x = random_input(&m.graph, 6);
    let (y, p) = prove(&m, &x, &()).unwrap();
    verify(&m.vk, &x, &y, &p).unwrap();

    // Block 1, row 5 gives weight to column 6: a future position in the block, though the
    // stacked row (13) is past it.
    let out = m.graph.output;
    let exp = m
        .graph
        .nodes
        .iter()
        .position(|n| n.op.kind() == "softmax_exp")
        .unwrap();
    let t0 = run_block(&m, 0, &x);
    let blk1 = block_of(&m.graph, 1).unwrap();
    let x1 = std::slice::from_ref(&t0.values[out]);
    for (node, value) in [(out, 9), (exp, 100)] {
        let t1 = execute_forged(&blk1, x1, node, |t| t.data[5 * 8 + 6] = value).unwrap();
        assert!(
            verify_trace(&m, &x, vec![t0.clone(), t1]).is_err(),
            "node {node}"
        );
    }
}

#[test]
fn malformed_stacked_structures_are_refused_without_panic() {
    use zkml::circuit::{Circuit, GraphShape};
    let g = batched_transformer("stack2", &CFG, &blocks(2, 3)).unwrap();
    let shape = GraphShape::of(&g);
    assert!(Circuit::new(shape.clone()).is_ok());
    let refused = |s: GraphShape| matches!(Circuit::new(s), Err(VerifyError::MalformedModel(_)));
    // More stacked blocks than the rows hold, or absurdly many.
    for l in [4, 11, 63, 200] {
        assert!(
            refused(GraphShape {
                log_blocks: l,
                ..shape.clone()
            }),
            "log_blocks {l}"
        );
    }
    // An ordinary graph's structure claiming to be a stack (rows are not the blocks' rows).
    let one = GraphShape::of(&transformer("one", &CFG, None, &blocks(1, 3)).unwrap());
    assert!(refused(GraphShape {
        log_blocks: 1,
        ..one
    }));
    // A column slice whose end overflows.
    let mut s = shape.clone();
    let id = s
        .nodes
        .iter()
        .position(|n| n.op.kind() == "column_slice")
        .unwrap();
    if let model::Op::ColumnSlice {
        ref mut start, len, ..
    } = s.nodes[id].op
    {
        *start = usize::MAX - len + 1;
    }
    assert!(refused(s));
    // A shared 1 x n gain where the stack has one gain per block.
    let mut s = shape;
    let id = s
        .nodes
        .iter()
        .position(|n| n.op.kind() == "mul_weight")
        .unwrap();
    let model::Op::MulWeight { weight, .. } = s.nodes[id].op else {
        unreachable!()
    };
    s.weights[weight].0.rows = 1;
    assert!(refused(s));
}

#[test]
fn calibrated_blocks_batch_after_sharing_ranges_and_track_f32() {
    use model::examples::ACT_SCALE;
    use model::reference::{calibrate_norms, compare, transformer_f32, Matrix};
    use model::transformer::share_norm_ranges;
    let mut w = blocks(4, 21);
    let x = random_input(&transformer("one", &CFG, None, &w[..1]).unwrap(), 12);
    let xf = Matrix::dequantise(&x.data, x.shape.rows, x.shape.cols, ACT_SCALE);
    calibrate_norms(&CFG, &xf, &mut w);
    // Calibrated apart, the blocks' norms differ (tables and constants): no stack.
    assert!(w.windows(2).any(|p| p[0].ranges != p[1].ranges));
    assert!(batched_transformer("s", &CFG, &w).is_err());
    let apart = transformer("seq", &CFG, None, &w).unwrap();
    let y_apart = execute(&apart, &x).unwrap().output(&apart).clone();
    share_norm_ranges(&mut w);
    let m = CommittedModel::new(
        batched_transformer("s", &CFG, &w).unwrap(),
        ProofConfig::default(),
    )
    .unwrap();
    let (y, proof) = prove(&m, &x, &()).unwrap();
    verify(&m.vk, &x, &y, &proof).unwrap();
    let want = transformer_f32(&CFG, None, Some(&xf), &w).unwrap();
    let err = compare(&y, ACT_SCALE, &want).unwrap();
    let err_apart = compare(&y_apart, ACT_SCALE, &want).unwrap();
    eprintln!(
        "4 calibrated blocks vs f32: batched with shared ranges max abs {:.4}, max rel {:.4}, \
         rms {:.4}; one after another with their own ranges max rel {:.4}, rms {:.4}",
        err.max_abs, err.max_rel, err.rms, err_apart.max_rel, err_apart.rms
    );
    assert!(err.max_rel < 0.02, "max rel {}", err.max_rel);
}
