//! Block batching: `N` decoder blocks of one shape stacked into one graph and proved in one GKR
//! pass (block-diagonal matmuls with `log2 N` extra rounds, the chain of block inputs bound by
//! the committed stacked input). The result must equal the blocks run one after another, and a
//! broken chain, swapped block weights or a wrong statement must be rejected.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use model::examples::random_input;
use model::execute::{execute, execute_all};
use model::stack::{block_of, stack_blocks, stack_traces};
use model::transformer::{batched_transformer, transformer, BlockWeights, TransformerConfig};
use model::{GraphError, Tensor, Trace};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use zkml::proof::ProofFile;
use zkml::prover::{prove_trace, WitnessCheck};
use zkml::{prove, verify, CommittedModel, ProofConfig, ProofFormat, VerifyError};

const CFG: TransformerConfig = TransformerConfig {
    d_model: 64,
    n_heads: 4,
    n_kv_heads: 2,
    head_dim: 16,
    ffn_dim: 128,
    rope_theta: 10000.0,
    eps: 1e-5,
    seq_len: 8,
};

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
fn verify_trace(m: &CommittedModel, x: &Tensor, traces: &[Trace]) -> Result<(), VerifyError> {
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
    let bytes = ProofFile::new(&m, x.clone(), y.clone(), proof).encode(ProofFormat::Binary);
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
    assert!(verify_trace(&m, &x, &traces).is_err());

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
    assert!(verify_trace(&m, &x, &traces).is_err());

    // The honest chain through the same helper verifies (the helper itself is sound).
    let mut traces = Vec::new();
    let mut h = x.clone();
    for b in 0..4 {
        let t = run_block(&m, b, &h);
        h = t.values[m.graph.output].clone();
        traces.push(t);
    }
    verify_trace(&m, &x, &traces).unwrap();
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
