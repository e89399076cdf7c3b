//! Verifying keys: `setup` fixes a model's scales and commitment and writes the key file;
//! `prove --vk` proves against exactly that key; `verify --vk` and `inspect --vk` need the key
//! alone (no model files, no commitment cache).

use std::path::Path;

use anyhow::{bail, Context, Result};
use model::Tensor;
use model_import::Prepared;
use zkml::config::check_security;
use zkml::proof::ProofFile;
use zkml::{CommittedModel, KeyFile, SetupRecord};

use crate::args::ModelArgs;

/// Largest key file read (one byte more is read, so the decoder refuses a larger one).
fn read_key_bytes(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(zkml::key_file::MAX_KEY_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes)
}

/// Reads and checks a key file.
pub fn read_key(path: &Path) -> Result<KeyFile> {
    let bytes = read_key_bytes(path)?;
    KeyFile::decode(&bytes)
        .with_context(|| format!("{} is not a usable verifying key", path.display()))
}

/// Writes `bytes` to `path` atomically (`model_service::write_atomic`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    model_service::write_atomic(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// `setup`: calibrate the model on `calibration` (seeded input when `None`), commit it and
/// write its verifying key to `out`. Returns the digest.
pub fn setup(
    model: &ModelArgs,
    calibration: Option<&Path>,
    seed: u64,
    out: &Path,
) -> Result<String> {
    let prepared = model.prepare(calibration, seed)?;
    let Prepared { graph, inputs, .. } = prepared;
    let n_params = graph.n_params() as u64;
    let name = graph.name.clone();
    // The key is published: its commitments are recomputed from the weights, never read from
    // the cache (which nothing authenticates).
    let committed = model.commit_fresh(graph)?;
    let bits = check_security(&committed.vk.config, &committed.circuit)?;
    // A built-in model has no scales to calibrate; its input is not part of the setup.
    let calibration = if model.calibrates() {
        inputs
    } else {
        Vec::new()
    };
    let key = KeyFile::new(
        committed.vk.clone(),
        SetupRecord {
            calibration,
            settings: model.settings(),
        },
    );
    let bytes = key.encode().context("encoding the verifying key")?;
    write_atomic(out, &bytes)?;
    let digest = key.digest_hex();
    println!(
        "set up {name}: {n_params} parameters, {bits}-bit security, key {} bytes -> {}",
        bytes.len(),
        out.display()
    );
    println!("model digest: {digest}");
    Ok(digest)
}

/// The prepared run for `prove --vk`: the model rebuilt with the key's calibration, run on
/// the input; refused if the flags differ from the key's settings.
pub fn prepare_for_key(
    model: &ModelArgs,
    key: &KeyFile,
    input: Option<&Path>,
    seed: u64,
) -> Result<Prepared> {
    let ours = model.settings();
    for ((name, theirs), (_, mine)) in key.setup.settings.iter().zip(&ours) {
        if theirs != mine {
            bail!(
                "the key was set up with {name} {theirs}, this run has {name} {mine}: give the \
                 setup's flags"
            );
        }
    }
    if key.setup.settings.len() != ours.len() {
        bail!("the key's settings are of another version of prove-model");
    }
    model.prepare_fixed(&key.setup.calibration, input, seed)
}

/// Refuses a committed model that is not the key's, naming what differs.
pub fn check_against_key(committed: &CommittedModel, key: &KeyFile) -> Result<()> {
    let (ours, theirs) = (&committed.vk, &key.vk);
    if ours.digest() == theirs.digest() {
        return Ok(());
    }
    let what = if ours.shape != theirs.shape {
        "the model's structure or scales differ from the key's (another model file or flags)"
    } else if ours.config != theirs.config {
        "the proof configuration differs from the key's (--log-blowup, --n-queries, --pow-bits)"
    } else {
        "the weights differ from the key's (another checkpoint or file with the same structure)"
    };
    bail!(
        "{what}: this model is {}, the key {}",
        ours.digest_hex(),
        theirs.digest_hex()
    )
}

/// `verify --vk`: the proof file against the key alone.
pub fn verify_with_key(key_path: &Path, proof: &Path, expect: Option<&str>) -> Result<()> {
    let key = read_key(key_path)?;
    let digest = key.digest_hex();
    if let Some(want) = expect {
        if !want.eq_ignore_ascii_case(&digest) {
            bail!(
                "{} is the key of model {digest}, not of the expected {want}",
                key_path.display()
            );
        }
    }
    let bytes = crate::files::read_proof(proof)?;
    let file =
        ProofFile::decode(&bytes).with_context(|| format!("decoding {}", proof.display()))?;
    let t = std::time::Instant::now();
    let outputs = file.outputs();
    zkml::verify_outputs(&key.vk, &file.inputs(), &outputs, &file.proof).with_context(|| {
        format!(
            "{} is not a valid proof for the key {} (model {digest})",
            proof.display(),
            key_path.display()
        )
    })?;
    println!(
        "valid: {} proves {} output(s) of model {} ({digest}) in {:.1} ms",
        proof.display(),
        outputs.len(),
        key.model_name(),
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// `inspect --vk`: the key's model, identity, security and setup.
pub fn inspect_key(key_path: &Path) -> Result<()> {
    let key = read_key(key_path)?;
    let circuit = key.vk.circuit()?;
    let bits = check_security(&key.vk.config, &circuit)?;
    let shape = &key.vk.shape;
    println!(
        "verifying key {}: model {} ({} parameters, {} nodes, {} weights, {} weight commitment(s))",
        key_path.display(),
        key.model_name(),
        key.n_params(),
        shape.nodes.len(),
        shape.weights.len(),
        key.vk.weights.len()
    );
    println!("model digest: {}", key.digest_hex());
    let pcs = &key.vk.config.pcs;
    println!(
        "proof configuration: log blowup {}, {} queries, {} proof-of-work bits: {bits}-bit security",
        pcs.log_blowup, pcs.n_queries, pcs.pow_bits
    );
    let io = |t: &[Tensor]| -> String {
        t.iter()
            .map(|x| format!("{}x{}", x.shape.rows, x.shape.cols))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "calibration inputs: {}",
        match key.setup.calibration.len() {
            0 => "none (no scales to calibrate)".into(),
            _ => io(&key.setup.calibration),
        }
    );
    for (name, value) in &key.setup.settings {
        println!("  {name} {value}");
    }
    Ok(())
}
