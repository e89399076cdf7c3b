//! Every ONNX fixture family of `tests/data` proved end to end through the importer: import
//! (tract, lowering, calibration, quantised and f32 runs), the integer forward pass, commit,
//! prove, verify, proof size, the max abs error against tract's f32 run, and the prove /
//! forward ratio, one row per family, measured in this run. The families: MLP, CNN (small,
//! depthwise-separable with BatchNorm, a 16-channel 64x64 conv, a ConvTranspose decoder),
//! attention (MatMul and Einsum forms), a BERT-like encoder.
//!
//! `cargo bench -p model-import --bench onnx_families`
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Instant;

use model_import::recipe::{prepare_onnx, Comparison, OnnxFile};
use model_import::QuantConfig;
use zkml::{prove_executed, verify_outputs, CommittedModel, ProofConfig};

const FAMILIES: [(&str, &str); 12] = [
    ("mnist_mlp", "MLP 784-128-10"),
    ("small_cnn", "CNN: 2 conv, max pool, global pool"),
    ("dw_cnn", "CNN: depthwise-separable, BatchNorm, stride 2"),
    ("conv_huge", "CNN: 16ch 64x64 3x3 conv"),
    ("conv_transpose", "CNN: ConvTranspose decoder"),
    ("conv_variants", "CNN: dilation, padded pools"),
    ("kws_cnn", "CNN 1-D: keyword spotting, 10x49 MFCC"),
    ("upsample_cnn", "CNN: nearest Resize x2, x3 (24x24 out)"),
    ("multi_output", "MLP + softmax, 4 outputs"),
    ("attention", "attention block + LayerNorm"),
    ("attention_einsum", "attention, Einsum form"),
    ("bert_encoder", "BERT-like encoder, 2 layers"),
];

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// `VmHWM` (peak resident set of the process so far) in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    println!(
        "{:<17} {:>8} {:>9} {:>8} {:>9} {:>8} {:>9} {:>9} {:>9} {:>8}",
        "family",
        "params",
        "import",
        "forward",
        "prove",
        "ratio",
        "verify",
        "proof",
        "max err",
        "peak"
    );
    for (name, what) in FAMILIES {
        let flat = std::fs::read_to_string(data(&format!("{name}.input.json")))
            .ok()
            .and_then(|t| serde_json::from_str::<Vec<f32>>(&t).ok());
        let config = QuantConfig::default();
        let t = Instant::now();
        let path = data(&format!("{name}.onnx"));
        let file = OnnxFile::from(path.as_path());
        let prepared = prepare_onnx(file, &config, flat.as_deref(), 1).unwrap();
        let import = t.elapsed();
        let err = match &prepared.report {
            Some(Comparison::Onnx(r)) => format!("{:.2e}", r.max_abs_err),
            _ => "-".into(),
        };
        let t = Instant::now();
        model::execute::execute_all(&prepared.graph, &prepared.inputs).unwrap();
        let forward = t.elapsed();
        let committed =
            CommittedModel::new(prepared.graph.clone(), ProofConfig::default()).unwrap();
        let t = Instant::now();
        let (y, proof) =
            prove_executed(&committed, &prepared.inputs, &prepared.trace, &()).unwrap();
        let prove = t.elapsed();
        let t = Instant::now();
        let outputs: Vec<_> = std::iter::once(y)
            .chain(prepared.trace.more_outputs(&prepared.graph))
            .collect();
        verify_outputs(&committed.vk, &prepared.inputs, &outputs, &proof).unwrap();
        let verify = t.elapsed();
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        println!(
            "{name:<17} {:>8} {:>7.0}ms {:>6.1}ms {:>7.0}ms {:>7.0}x {:>7.1}ms {:>7.0}KiB {err:>9} {:>5.0}MiB  ({what})",
            committed.graph.n_params(),
            ms(import),
            ms(forward),
            ms(prove),
            prove.as_secs_f64() / forward.as_secs_f64().max(1e-9),
            ms(verify),
            proof.size_bytes() as f64 / 1024.0,
            peak_mib(),
        );
    }
    println!("peak: the process's resident high-water mark after each row (monotone).");
}
