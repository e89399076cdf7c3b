//! Whole decoders proved end to end: a prefill of 16 tokens, then decode steps of one token
//! against the proved K/V cache, on synthetic checkpoints of real model shapes with massive
//! activations injected (two residual channels of the first position at about 2^11 real units,
//! as real checkpoints carry; they take the wide-range constructions of `model::wide`).
//!
//! `cargo bench -p model-import --bench decoder [-- CASE]`, CASE `smol-135m` (default; d 576,
//! 30 layers, 9/3 heads, ffn 1536, vocab 49,152, tied) or `qwen-0.5b` (d 896, 24 layers, 14/2
//! heads, ffn 4864, vocab 151,936, q/k/v biases, tied). Prints per phase: times, proof size,
//! prove / forward ratio and the peak resident set.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use model::decode::KvCache;
use model_import::hf::synth::write_synthetic;
use model_import::hf::{Checkpoint, DecoderModel};
use model_import::{LoadOptions, QuantConfig};
use safetensors::Dtype;
use serde_json::{json, Value};
use zkml::{prove_all, verify_all, CommittedModel, ProofConfig};

const PREFILL: usize = 16;

/// `VmHWM` (peak resident set) of this process in GiB.
fn peak_gib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / (1u64 << 20) as f64)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn config(case: &str) -> Value {
    let (h, layers, heads, kv, ffn, vocab, bias) = match case {
        "qwen-0.5b" => (896, 24, 14, 2, 4864, 151_936, true),
        _ => (576, 30, 9, 3, 1536, 49_152, false),
    };
    json!({
        "model_type": if bias { "qwen2" } else { "llama" },
        "hidden_size": h,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "head_dim": 64,
        "intermediate_size": ffn,
        "num_hidden_layers": layers,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "vocab_size": vocab,
        "max_position_embeddings": 1024,
        "hidden_act": "silu",
        "tie_word_embeddings": true,
        "torch_dtype": "bfloat16"
    })
}

/// One step: commit (or reuse the previous step's commitment), forward, prove, verify.
struct Step {
    commit: Duration,
    forward: Duration,
    prove: Duration,
    verify: Duration,
    bytes: usize,
    parts: String,
    next: usize,
}

fn run_step(
    m: &DecoderModel,
    committed: &mut Option<CommittedModel>,
    cache: &mut KvCache,
    ids: &[usize],
    pos0: usize,
) -> Step {
    let step = m.step_graph(pos0, ids.len()).unwrap();
    let inputs = m.step_inputs(&step, cache, ids).unwrap();
    let t = Instant::now();
    std::hint::black_box(model::execute::execute_all(&step.graph, &inputs).unwrap());
    let forward = t.elapsed();
    let t = Instant::now();
    let model = match committed.take() {
        Some(c) => c
            .update(step.graph.clone())
            .map(|u| u.0)
            .unwrap_or_else(|_| {
                CommittedModel::new(step.graph.clone(), ProofConfig::default()).unwrap()
            }),
        None => CommittedModel::new(step.graph.clone(), ProofConfig::default()).unwrap(),
    };
    let commit = t.elapsed();
    let t = Instant::now();
    let (logits, proof) = prove_all(&model, &inputs, &()).unwrap();
    let prove = t.elapsed();
    let t = Instant::now();
    verify_all(&model.vk, &inputs, &logits, &proof).unwrap();
    let verify = t.elapsed();
    let v = logits.shape.cols;
    let last = &logits.data[(ids.len() - 1) * v..ids.len() * v];
    let next = (0..v).max_by_key(|&i| last[i]).unwrap();
    *cache = KvCache::after(&inputs);
    *committed = Some(model);
    Step {
        commit,
        forward,
        prove,
        verify,
        bytes: proof.size_bytes(),
        parts: proof
            .size_parts()
            .iter()
            .map(|(name, b)| format!("{name} {:.0} KB", *b as f64 / 1e3))
            .chain(
                proof
                    .layer_sizes()
                    .iter()
                    .take(6)
                    .map(|(k, b)| format!("{k} {:.0} KB", *b as f64 / 1e3)),
            )
            .collect::<Vec<_>>()
            .join(", "),
        next,
    }
}

fn main() {
    let case = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "smol-135m".into());
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    write_synthetic(dir.path(), &config(&case), Dtype::BF16, 7, 4).unwrap();
    let ckpt = Checkpoint::open(dir.path()).unwrap();
    let w = ckpt
        .load_decoder(&LoadOptions {
            quant: QuantConfig::direct(8, 11),
            layers: None,
        })
        .unwrap();
    let n_params = w.n_params();
    let mut m = DecoderModel::new(&w, PREFILL).unwrap();
    drop(w);
    // Massive activations: two channels of the first token's embedding row. As in trained
    // models, the final norm's gain silences those channels (set to 0): with tied embeddings the
    // head reads the same table, and an undamped 2000-unit channel would push that token's
    // logit past the head's 31-bit accumulator (the executor refuses such a step).
    let d = m.config.d_model;
    let first = 1usize;
    let s = m.embedding.scale;
    m.embedding.data[first * d + 7] = 2000 << s;
    m.embedding.data[first * d + 300] = -1500 << s;
    for c in [7, 300] {
        m.final_norm.data[c] = 0;
    }
    let prompt: Vec<usize> = std::iter::once(first)
        .chain((1..PREFILL).map(|i| 17 + 31 * i))
        .collect();
    m.calibrate(&prompt).unwrap();
    let wide = m
        .blocks
        .iter()
        .filter(|b| b.ranges.attn.needs_wide(8))
        .count();
    println!(
        "{case}: {n_params} parameters, {} layers ({wide} with wide norms), checkpoint written \
         and loaded in {:.1} s",
        m.blocks.len(),
        t.elapsed().as_secs_f64()
    );
    let mut committed = None;
    let mut cache = KvCache { layers: vec![] };
    let report = |what: &str, s: &Step| {
        println!(
            "{case} {what:<22} | commit {:>8.0} ms | forward {:>7.1} ms | prove {:>7.0} ms | \
             verify {:>6.1} ms | proof {:>8} B ({}) | prove/forward {:>6.1} | peak RSS {:.2} GiB",
            ms(s.commit),
            ms(s.forward),
            ms(s.prove),
            ms(s.verify),
            s.bytes,
            s.parts,
            ms(s.prove) / ms(s.forward),
            peak_gib()
        )
    };
    let s = run_step(&m, &mut committed, &mut cache, &prompt, 0);
    report(&format!("prefill {PREFILL} tokens"), &s);
    let mut next = s.next;
    for pos in PREFILL..PREFILL + 3 {
        let s = run_step(&m, &mut committed, &mut cache, &[next], pos);
        let what = match pos - PREFILL {
            0 => "token 1 (new exp table)".to_string(),
            k => format!("token {} (same weights)", k + 1),
        };
        report(&what, &s);
        next = s.next;
    }
}
