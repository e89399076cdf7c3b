//! Shared by the ONNX tests: fixture paths, sample inputs, and proving an imported model.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use model_import::Imported;
use zkml::{CommittedModel, ProofConfig};

pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The sample input `tests/data/{name}.input.json` (a flat JSON array).
pub fn sample_input(name: &str) -> Vec<f32> {
    let text = std::fs::read_to_string(data(&format!("{name}.input.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Proves `imported` on `input`, verifies the proof, and checks that the same proof with one
/// output entry changed is rejected. Returns the prove and verify times.
pub fn prove_and_verify(imported: &Imported, input: &[f32]) -> (Duration, Duration) {
    let x = model_import::quantise_input(&imported.source, &imported.config, input).unwrap();
    let committed = CommittedModel::new(imported.graph.clone(), ProofConfig::default()).unwrap();
    let start = Instant::now();
    let (y, proof) = zkml::prove(&committed, &x, &()).unwrap();
    let prove = start.elapsed();
    let start = Instant::now();
    zkml::verify(&committed.vk, &x, &y, &proof).unwrap();
    let verify = start.elapsed();
    let mut forged = y.clone();
    forged.data[0] += 1;
    let err = zkml::verify(&committed.vk, &x, &forged, &proof).unwrap_err();
    println!(
        "{}: a changed output is rejected: {err}",
        imported.source.name
    );
    (prove, verify)
}
