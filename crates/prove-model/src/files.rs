//! The user's files: inputs as JSON arrays, proofs as bytes.

use std::path::Path;

use anyhow::{Context, Result};
use model::{Graph, Tensor};

/// A built-in model's input: a JSON array of real numbers, quantised at the graph's input
/// scale.
pub fn read_input(path: &Path, graph: &Graph) -> Result<Tensor> {
    let values: Vec<f64> =
        serde_json::from_str(&read_text(path)?).with_context(|| numbers(path))?;
    model::examples::quantise_input(graph, &values).with_context(|| path.display().to_string())
}

pub fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn numbers(path: &Path) -> String {
    format!("{}: expected a JSON array of numbers", path.display())
}

/// The proof file at `path`, read up to one byte past `zkml::proof::MAX_PROOF_BYTES` (so that
/// a larger file is refused by the decoder without being read whole).
pub fn read_proof(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(zkml::proof::MAX_PROOF_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes)
}
