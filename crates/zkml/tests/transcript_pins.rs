//! Proof transcripts pinned per layer family: for each graph below (together they use every
//! op), the proof of a seeded input must hash to the pinned digest. Refactoring the prover or
//! the verifier must not change a byte; a protocol change updates the pins together with
//! `PROOF_VERSION` (print the new digests with `--nocapture`).
#![allow(clippy::unwrap_used)]

use blake2::{Blake2s256, Digest};
use model::decode::{cached_step, KvCache};
use model::examples::{random_input, random_weight, ACT_SCALE};
use model::execute::execute_all;
use model::transformer::{batched_transformer, random_transformer, transformer, TINY_DECODER};
use model::{Func, Graph, GraphBuilder, Shape, Tensor, Weight};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use zkml::proof::ProofFile;
use zkml::{prove_all, verify_all, CommittedModel, ProofConfig, ProofFormat};

fn vector(name: &str, n: usize, scale: u32, base: i64) -> Weight {
    Weight {
        name: name.into(),
        shape: Shape::new(1, n),
        scale,
        data: (0..n as i64).map(|i| base + (i * 37) % 61 - 30).collect(),
    }
}

/// Proves, verifies and returns the hex digest of the encoded proof file.
fn digest(graph: Graph, inputs: Vec<Tensor>) -> String {
    let m = CommittedModel::new(graph, ProofConfig::default()).unwrap();
    let (y, proof) = prove_all(&m, &inputs, &()).unwrap();
    verify_all(&m.vk, &inputs, &y, &proof).unwrap();
    let bytes = ProofFile::new_all(&m, inputs, y, proof)
        .encode(ProofFormat::Binary)
        .unwrap();
    hex::encode(Blake2s256::digest(&bytes))
}

/// Padded shapes, split matmuls, bias, ReLU, a table lookup with padding, column slices, an
/// aligned concat, mul, row sum, broadcast, constants, gains, RoPE's half rotation, row slices,
/// a row broadcast and a full-shape bias.
fn misc_graph() -> Graph {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut b = GraphBuilder::new("misc", Shape::new(3, 24), ACT_SCALE).unwrap();
    let w = random_weight("w", 24, 20, &mut rng);
    let h = b.matmul_blocks(0, &w).unwrap();
    let h = b.rescale(h, w.scale).unwrap();
    let h = b.add_bias(h, vector("b", 20, ACT_SCALE, 0)).unwrap();
    let r = b.relu(h).unwrap();
    let s = b.activation(r, Func::Silu, ACT_SCALE).unwrap();
    let c = b.column_slice(s, 0, 16).unwrap();
    let d = b.column_slice(s, 16, 4).unwrap();
    let cat = b.concat_aligned(&[c, d]).unwrap();
    let m = b.mul(cat, s).unwrap();
    let m = b.rescale(m, ACT_SCALE).unwrap();
    let rs = b.row_sum(m).unwrap();
    let bc = b.broadcast_column(rs, 20).unwrap();
    let k = b.mul_const(bc, 3, 2).unwrap();
    let k = b.rescale(k, 2).unwrap();
    let a = b.add_const(k, 5).unwrap();
    let sum = b.add(a, m).unwrap();
    let g = b.mul_weight(sum, vector("g", 20, ACT_SCALE, 256)).unwrap();
    let g = b.rescale(g, ACT_SCALE).unwrap();
    let mc = b.mul_column(g, rs).unwrap();
    let mc = b.rescale(mc, ACT_SCALE).unwrap();
    let rot = b.rotate_half(mc, 2).unwrap();
    // A row repeated down the rows, plus a bias of the full shape.
    let first = b.row_slice(rot, 0, 1).unwrap();
    let rep = b.broadcast_row(first, 3).unwrap();
    let full = Weight {
        name: "positions".into(),
        shape: Shape::new(3, 20),
        scale: ACT_SCALE,
        data: (0..60).map(|i| (i * 29) % 41 - 20).collect(),
    };
    let pos = b.add_bias(rep, full).unwrap();
    let both = b.add(pos, rot).unwrap();
    let out = b.row_slice(both, 0, 2).unwrap();
    b.build(out).unwrap()
}

#[test]
fn misc_layers_transcript_is_pinned() {
    let g = misc_graph();
    let kinds: Vec<&str> = g.nodes.iter().map(|n| n.op.kind()).collect();
    println!("misc ops {kinds:?}");
    let x = random_input(&g, 9);
    let got = digest(g, vec![x]);
    println!("misc {got}");
    assert_eq!(got, PINS[0]);
}

/// Embedding, two decoder blocks with Qwen biases and q / k norms, causal softmax.
#[test]
fn decoder_transcript_is_pinned() {
    let (embedding, mut blocks) = random_transformer(&TINY_DECODER, 32, 2, 11);
    let b = &mut blocks[1];
    let kv = TINY_DECODER.n_kv_heads * TINY_DECODER.head_dim;
    b.q_bias = Some(vector("bq", TINY_DECODER.n_heads * 16, ACT_SCALE, 0));
    b.k_bias = Some(vector("bk", kv, ACT_SCALE, 0));
    b.v_bias = Some(vector("bv", kv, ACT_SCALE, 0));
    b.q_norm = Some(vector("q_norm", 16, ACT_SCALE, 256));
    b.k_norm = Some(vector("k_norm", 16, ACT_SCALE, 256));
    let g = transformer("dec", &TINY_DECODER, Some(embedding), &blocks).unwrap();
    let ids = Tensor::new(Shape::new(8, 1), vec![3, 1, 4, 1, 5, 9, 2, 6]);
    let got = digest(g, vec![ids]);
    println!("decoder {got}");
    assert_eq!(got, PINS[1]);
}

/// Two stacked blocks: block-diagonal matmuls and the chain.
#[test]
fn stack_transcript_is_pinned() {
    let (_, blocks) = random_transformer(&TINY_DECODER, 2, 2, 13);
    let g = batched_transformer("stack", &TINY_DECODER, &blocks).unwrap();
    let x = random_input(&g, 4);
    let got = digest(g, vec![x]);
    println!("stack {got}");
    assert_eq!(got, PINS[2]);
}

/// A one-token decoding step against a K/V cache: public K/V inputs and their assertions.
#[test]
fn decode_step_transcript_is_pinned() {
    let (_, blocks) = random_transformer(&TINY_DECODER, 2, 1, 17);
    let cfg = model::transformer::TransformerConfig {
        seq_len: 1,
        ..TINY_DECODER
    };
    let (g, kvs) = cached_step("step", &cfg, &blocks, 3).unwrap();
    let cache = KvCache { layers: vec![] };
    let x = random_input(&g, 6);
    let inputs = cache.step_inputs(&g, &kvs, x).unwrap();
    execute_all(&g, &inputs).unwrap();
    let got = digest(g, inputs);
    println!("decode {got}");
    assert_eq!(got, PINS[3]);
}

/// Tiled weights (an embedding and a projection of 192 x 192 = (128 + 64) x (128 + 64)) and
/// a tied head reading the embedding table transposed.
#[test]
fn tiles_and_tied_head_transcript_is_pinned() {
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let mut b = GraphBuilder::new("tiled", Shape::new(4, 1), 0).unwrap();
    let mut table = random_weight("embed", 192, 192, &mut rng);
    table.scale = ACT_SCALE;
    let e = b.embedding(0, table).unwrap();
    let h = b.matmul(e, random_weight("p", 192, 192, &mut rng)).unwrap();
    let h = b.rescale(h, 7).unwrap();
    let table = b.weight_of(e).unwrap();
    let logits = b.matmul_transposed(h, table).unwrap();
    let logits = b.rescale(logits, 9).unwrap();
    let g = b.build(logits).unwrap();
    let ids = Tensor::new(Shape::new(4, 1), vec![0, 191, 128, 127]);
    let m = CommittedModel::new(g.clone(), ProofConfig::default()).unwrap();
    assert_eq!(m.circuit.weight_tiles[0].len(), 4, "the table is tiled");
    let got = digest(g, vec![ids]);
    println!("tiles {got}");
    assert_eq!(got, PINS[4]);
}

const PINS: [&str; 5] = [
    "8659993c798381dc698c14644c1d35c509267853eae2e24c5948bc5c3cdc8fff",
    "331f6cada5c4385251bceb8d148d1361d3ea63d9da127f03a4a5b97e13a93b72",
    "3b82607e11051d699779121d5fcfb616d8a63989f95757a328f664a51a052a8c",
    "b09525b2a7ac7eceface0d0e94511c51db4b110cc61be2657eaafd29afb54e5f",
    "f591298c3f56b590827442e7527ed24a41b6651f30b610c6ee6c405092fc58e0",
];
