//! `--model-dir`: a HuggingFace decoder folder as the model and token ids as the input.
//!
//! The recipe lives in [`model_import::recipe::decoder`]; this is its edge: the token-id file,
//! the flags named in errors, and the check that a proof file comes from the same decoder.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use model_import::recipe::token_ids_from_json;
use model_import::PrepareError;
use zkml::proof::ProofFile;
use zkml::CommittedModel;

/// Token ids from a file holding a JSON array of non-negative integers.
pub fn read_token_ids(path: &Path) -> Result<Vec<usize>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    token_ids_from_json(&text).with_context(|| path.display().to_string())
}

/// `e` in the CLI's terms: the flags that set what failed, and the input file of bad token
/// ids.
pub fn explain(e: PrepareError, input: Option<&Path>) -> anyhow::Error {
    match e {
        PrepareError::NoFolder { dir } => {
            anyhow!("--model-dir {}: no such folder", dir.display())
        }
        PrepareError::NoConfig { .. } => anyhow!("--model-dir {e}"),
        PrepareError::SeqLen { ids, seq_len } => {
            anyhow!("the input has {ids} token ids but --seq-len is {seq_len}")
        }
        PrepareError::Tokens { .. } => {
            let what = match input {
                Some(p) => format!("input {}", p.display()),
                None => "seeded input".into(),
            };
            anyhow::Error::new(e).context(what)
        }
        e => e.into(),
    }
}

/// Refuses a proof made for another decoder before checking it: another layer count or family
/// (the graph's name), or other weights or quantisation (the digest).
pub fn check_proof_source(file: &ProofFile, committed: &CommittedModel, dir: &Path) -> Result<()> {
    let name = &committed.graph.name;
    if file.model_name != *name {
        bail!(
            "the proof is for '{}', but --model-dir {} with these --layers builds '{name}'",
            file.model_name,
            dir.display()
        );
    }
    let digest = committed.vk.digest_hex();
    if file.model_digest != digest {
        bail!(
            "the proof is for model digest {}, but --model-dir {} (with these --layers and \
             --quant) gives {digest}: other weights or quantisation",
            file.model_digest,
            dir.display()
        );
    }
    Ok(())
}
