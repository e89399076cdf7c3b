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
use model::window::{Gather, Window};
use model::{Func, Graph, GraphBuilder, Shape, Tensor, Weight};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use zkml::proof::ProofFile;
use zkml::{prove_executed, verify_outputs, CommittedModel, ProofConfig, ProofFormat};

fn vector(name: &str, n: usize, scale: u32, base: i64) -> Weight {
    Weight {
        name: name.into(),
        shape: Shape::new(1, n),
        scale,
        data: (0..n as i64).map(|i| base + (i * 37) % 61 - 30).collect(),
    }
}

/// Proves, verifies and returns the hex digest of the encoded proof file (with every public
/// output).
fn digest(graph: Graph, inputs: Vec<Tensor>) -> String {
    let m = CommittedModel::new(graph, ProofConfig::default()).unwrap();
    let trace = execute_all(&m.graph, &inputs).unwrap();
    let (y, proof) = prove_executed(&m, &inputs, &trace, &()).unwrap();
    let file =
        ProofFile::new_all(&m, inputs, y, proof).with_more_outputs(trace.more_outputs(&m.graph));
    verify_outputs(&m.vk, &file.inputs(), &file.outputs(), &file.proof).unwrap();
    let bytes = file.encode(ProofFormat::Binary).unwrap();
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

/// Window gathers (im2col taps, a pool tap, a window sum) and a model with several public
/// outputs (a computed one and a chosen one).
#[test]
fn gathers_and_several_outputs_transcript_is_pinned() {
    let mut rng = ChaCha8Rng::seed_from_u64(29);
    let mut b = GraphBuilder::new("gathers", Shape::new(32, 2), ACT_SCALE).unwrap();
    let conv = Window {
        images: 2,
        h: 4,
        w: 4,
        oh: 4,
        ow: 4,
        kernel: [3, 3],
        stride: [1, 1],
        dilation: [1, 1],
        pad: [1, 1],
        transposed: false,
    };
    let patches = b.window_gather(0, conv, Gather::Taps).unwrap();
    let y = b
        .matmul(patches, random_weight("k", 18, 4, &mut rng))
        .unwrap();
    let product = y;
    let y = b.rescale(y, ACT_SCALE).unwrap();
    let y = b.relu(y).unwrap();
    let pool = Window {
        oh: 2,
        ow: 2,
        kernel: [2, 2],
        stride: [2, 2],
        pad: [0, 0],
        ..conv
    };
    let tap = b.window_gather(y, pool, Gather::Tap(1)).unwrap();
    let sum = b
        .window_gather(tap, Window::whole_image(2, 2, 2), Gather::Sum)
        .unwrap();
    let g = b.build_outputs(sum, vec![product, y]).unwrap();
    let x = random_input(&g, 8);
    let got = digest(g, vec![x]);
    println!("gathers {got}");
    assert_eq!(got, PINS[5]);
}

const PINS: [&str; 6] = [
    "36d98d4319820709babf54d3f137471f93c8f03a676bea959ecc3e1a9d44c49b",
    "e19400365b9e01b3dd8882a5ec55b2560dcf88e0c9fc5bd6edd0f6c35a257f36",
    "92a007970ea913310f89bad697b2c203bd0be1361b628a28acbcf1e4d8da612f",
    "ab6214888ea3b7964e998bf02efee182530625b30f24a106e21541a25d3fb3f3",
    "37ba0160591ed99418e0c48ce27c1bc487acfcc71a7aa2a92523afeaeba87f9c",
    "85663616caf7d55b5381847118eeb23c805e683297bd091cf5b8f755f409f10e",
];
