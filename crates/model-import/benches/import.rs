//! SafeTensors import at scale: writes a ~100M-parameter Llama-like checkpoint (F32) into a
//! temporary folder, imports and quantises it (Symmetric8), and prints the times, the peak
//! resident set (`VmHWM`) and its ratio to the checkpoint's size, which must stay below 2.
//!
//! `cargo bench -p model-import --bench import`
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use model_import::hf::synth::write_synthetic;
use model_import::hf::Checkpoint;
use model_import::{LoadOptions, QuantConfig};
use safetensors::Dtype;
use serde_json::json;

/// Largest accepted peak RSS / checkpoint size.
const MAX_RATIO: f64 = 2.0;

/// `VmHWM` (peak resident set) of this process in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

fn main() {
    // 32000 x 768 embedding and untied head (49.2M), 8 layers of 6.3M: 99.5M parameters.
    let config = json!({
        "model_type": "llama",
        "hidden_size": 768,
        "num_attention_heads": 12,
        "num_key_value_heads": 4,
        "head_dim": 64,
        "intermediate_size": 2048,
        "num_hidden_layers": 8,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "vocab_size": 32000,
        "tie_word_embeddings": false
    });
    let tmp = tempfile::tempdir().unwrap();
    let t = Instant::now();
    write_synthetic(tmp.path(), &config, Dtype::F32, 7, 1).unwrap();
    let generate = t.elapsed();
    let rss_after_generate = peak_rss();

    let t = Instant::now();
    let ckpt = Checkpoint::open(tmp.path()).unwrap();
    let open = t.elapsed();
    let file_bytes = ckpt.file_bytes().unwrap();

    // Read and decode every tensor, one at a time, without quantising.
    let t = Instant::now();
    let mut n_values = 0usize;
    for name in ckpt.names() {
        n_values += ckpt.read_f32(name).unwrap().len();
    }
    let decode = t.elapsed();

    let t = Instant::now();
    let options = LoadOptions {
        quant: QuantConfig::symmetric8(8),
        layers: None,
    };
    let weights = ckpt.load_decoder(&options).unwrap();
    let load = t.elapsed();
    let peak = peak_rss();
    let ratio = peak as f64 / file_bytes as f64;

    println!(
        "checkpoint: {n_values} parameters, {:.1} MiB (F32, one file)",
        mib(file_bytes)
    );
    println!(
        "generate:                      {:>8.2} s",
        generate.as_secs_f64()
    );
    println!(
        "open (config + headers):       {:>8.2} ms",
        open.as_secs_f64() * 1e3
    );
    println!(
        "import (read + decode to f32): {:>8.2} s",
        decode.as_secs_f64()
    );
    println!(
        "import + quantise symmetric8:  {:>8.2} s",
        load.as_secs_f64()
    );
    println!(
        "quantise (difference):         {:>8.2} s",
        (load.as_secs_f64() - decode.as_secs_f64()).max(0.0)
    );
    println!(
        "quantised: {} parameters in {} layers",
        weights.n_params(),
        weights.layers.len()
    );
    println!(
        "peak RSS (VmHWM): {:.1} MiB (after generating: {:.1} MiB)",
        mib(peak),
        mib(rss_after_generate)
    );
    println!("peak RSS / checkpoint size: {ratio:.3} (limit {MAX_RATIO})");
    assert!(
        ratio < MAX_RATIO,
        "peak memory {ratio:.3}x the checkpoint size"
    );
}
