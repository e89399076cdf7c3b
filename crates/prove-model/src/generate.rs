//! `generate` and `verify-generation`: greedy decoding of a `--model-dir` decoder with every
//! step proved.
//!
//! The prompt is the prefill step (positions `0..p`); each generated token but the last is
//! then a step of one row against the K/V cache of public inputs ([`model_import::hf::step`]);
//! every step's greedy token is the largest logit of its last row. Each step is written
//! as `step-NNN.bin`: its position, public inputs (token ids, then K and V per block), logits
//! and proof. `verify-generation` rebuilds the decoder from the same folder and flags
//! calibrated on step 0's token ids (the prompt), and for every step checks the proof, that
//! its cache begins with the previous step's (so the rows before it are rows proved earlier),
//! and that its token is the largest logit of the previous step's last row (greedy choice).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, ensure, Context, Result};
use bincode::Options;
use indicatif::{ProgressBar, ProgressStyle};
use model::decode::KvCache;
use model::Tensor;
use model_import::hf::DecoderModel;
use model_import::tokenizer::TextTokenizer;
use serde::{Deserialize, Serialize};
use zkml::proof::MAX_PROOF_BYTES;
use zkml::{CommittedModel, ModelProof};

use crate::args::ModelArgs;

/// Magic bytes of a step file, then its version (u32, little endian), then the body.
const MAGIC: &[u8; 8] = b"STWOSTEP";
const STEP_VERSION: u32 = 1;

/// One proved step of a generation.
#[derive(Serialize, Deserialize)]
pub struct StepFile {
    pub model_name: String,
    pub model_digest: String,
    /// Position of the step's first token.
    pub pos0: usize,
    /// Public inputs: token ids (`rows x 1`), then K and V of every block.
    pub inputs: Vec<Tensor>,
    pub logits: Tensor,
    pub proof: ModelProof,
}

fn encoding() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(MAX_PROOF_BYTES)
}

impl StepFile {
    fn encode(&self) -> Result<Vec<u8>> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&STEP_VERSION.to_le_bytes());
        encoding()
            .serialize_into(&mut out, self)
            .context("encoding a step")?;
        Ok(out)
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| anyhow!("not a generation step file"))?;
        let (version, body) = body
            .split_at_checked(4)
            .ok_or_else(|| anyhow!("truncated"))?;
        let version = u32::from_le_bytes(version.try_into().unwrap_or_default());
        ensure!(
            version == STEP_VERSION,
            "step file version {version}, expected {STEP_VERSION}"
        );
        encoding()
            .reject_trailing_bytes()
            .deserialize(body)
            .context("malformed step file")
    }

    /// The step's token ids.
    fn ids(&self) -> Result<Vec<usize>> {
        let ids = self.inputs.first().ok_or_else(|| anyhow!("no inputs"))?;
        ids.data
            .iter()
            .map(|&v| usize::try_from(v).map_err(|_| anyhow!("token id {v} is negative")))
            .collect()
    }
}

/// The index of the largest logit of the last row (the first on ties): the greedy token.
fn greedy(logits: &Tensor) -> Result<usize> {
    let v = logits.shape.cols;
    let last = logits
        .data
        .get(logits.data.len().saturating_sub(v)..)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| anyhow!("no logits"))?;
    let mut best = 0;
    for (i, &x) in last.iter().enumerate() {
        if x > last[best] {
            best = i;
        }
    }
    Ok(best)
}

/// The model's tokenizer: its folder's `tokenizer.json`, or a GGUF file's vocabulary.
fn tokenizer(args: &ModelArgs) -> Result<TextTokenizer> {
    let path = args
        .decoder()
        .ok_or_else(|| anyhow!("generation needs a decoder: --model-dir or --gguf"))?
        .dir;
    Ok(TextTokenizer::for_model(&path)?)
}

/// The text of `ids`, when the model has a tokenizer.
fn text(args: &ModelArgs, ids: &[usize]) -> Option<String> {
    tokenizer(args).ok()?.decode(ids).ok()
}

fn step_path(dir: &Path, k: usize) -> PathBuf {
    dir.join(format!("step-{k:03}.bin"))
}

/// The model of the next step: the previous commitment with the chunks whose weights changed
/// (a new exp table when the cache crosses a power of two) committed afresh, else (another
/// layout) a commitment.
fn commit_step(
    args: &ModelArgs,
    prev: Option<CommittedModel>,
    graph: model::Graph,
) -> Result<CommittedModel> {
    step_model(prev, graph, |g| Ok(args.commit(g)?.0))
}

/// The previous step's commitment updated for `graph` when only some chunks changed, else
/// `commit(graph)`.
fn step_model(
    prev: Option<CommittedModel>,
    graph: model::Graph,
    commit: impl FnOnce(model::Graph) -> Result<CommittedModel>,
) -> Result<CommittedModel> {
    if let Some(prev) = prev {
        if let Ok((m, _)) = prev.update(graph.clone()) {
            return Ok(m);
        }
    }
    commit(graph)
}

/// [`commit_step`] for a verifier: the previous step's commitment updated (computed here,
/// from the weights), else a fresh commitment; never the cache, which nothing authenticates.
fn verify_step_model(
    args: &ModelArgs,
    prev: Option<CommittedModel>,
    graph: model::Graph,
) -> Result<CommittedModel> {
    step_model(prev, graph, |g| args.commit_fresh(g))
}

fn decoder(args: &ModelArgs, prompt: &[usize]) -> Result<DecoderModel> {
    let src = args
        .decoder()
        .ok_or_else(|| anyhow!("generation needs a decoder: --model-dir or --gguf"))?;
    model_import::recipe::decoder_model(&src, prompt).map_err(|e| crate::decoder::explain(e, None))
}

/// Proves `max_new` steps (the prefill of `prompt`, then each generated token but the last),
/// each choosing the next token greedily from its proved logits; writes one step file each
/// into `out` and returns the `max_new` generated ids.
pub fn generate(
    args: &ModelArgs,
    prompt: &[usize],
    max_new: usize,
    out: &Path,
) -> Result<Vec<usize>> {
    ensure!(!prompt.is_empty(), "the prompt has no token ids");
    ensure!(max_new >= 1, "--max-new-tokens must be at least 1");
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let m = decoder(args, prompt)?;
    let bar = ProgressBar::new(max_new as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:20}] {pos}/{len} steps {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut cache = KvCache { layers: vec![] };
    let mut committed = None;
    let mut ids: Vec<usize> = prompt.to_vec();
    let (mut pos, mut rows) = (0, prompt.len());
    for k in 0..max_new {
        let t = Instant::now();
        let step = m.step_graph(pos, rows)?;
        let inputs = m.step_inputs(&step, &cache, &ids[pos..pos + rows])?;
        let model = commit_step(args, committed.take(), step.graph)?;
        let (logits, proof) = zkml::prove_all(&model, &inputs, &()).context("proving")?;
        let next = greedy(&logits)?;
        let file = StepFile {
            model_name: model.graph.name.clone(),
            model_digest: model.vk.digest_hex(),
            pos0: pos,
            inputs,
            logits,
            proof,
        };
        let path = step_path(out, k);
        std::fs::write(&path, file.encode()?)
            .with_context(|| format!("writing {}", path.display()))?;
        bar.set_message(format!("step {k}: {:.1} s", t.elapsed().as_secs_f64()));
        bar.inc(1);
        cache = KvCache::after(&file.inputs);
        committed = Some(model);
        pos += rows;
        rows = 1;
        ids.push(next);
    }
    bar.finish_and_clear();
    Ok(ids[prompt.len()..].to_vec())
}

/// Checks every step file in `dir` (see the module documentation); returns the prompt and the
/// generated ids.
pub fn verify_generation(args: &ModelArgs, dir: &Path) -> Result<(Vec<usize>, Vec<usize>)> {
    let read = |k: usize| -> Result<Option<StepFile>> {
        let path = step_path(dir, k);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = crate::files::read_proof(&path)?;
        StepFile::decode(&bytes)
            .with_context(|| path.display().to_string())
            .map(Some)
    };
    let first = read(0)?
        .ok_or_else(|| anyhow!("{}: no generation (step-000.bin is missing)", dir.display()))?;
    let prompt = first.ids()?;
    let m = decoder(args, &prompt)?;
    let mut committed = None;
    let (mut prev, mut generated, mut k) = (None::<StepFile>, Vec::new(), 0);
    let mut next = Some(first);
    while let Some(file) = next {
        let ids = file.ids()?;
        let pos0 = prev.as_ref().map_or(0, |p| p.pos0 + p.inputs[0].shape.rows);
        ensure!(
            file.pos0 == pos0,
            "step {k} starts at position {}, not {pos0}",
            file.pos0
        );
        if let Some(p) = &prev {
            let cache = KvCache::after(&p.inputs);
            ensure!(
                cache.check_next(&file.inputs),
                "step {k}: its K/V cache does not continue step {}'s",
                k - 1
            );
            let want = greedy(&p.logits)?;
            ensure!(
                ids == [want],
                "step {k}: token {ids:?} is not the greedy choice {want} of step {}",
                k - 1
            );
        }
        let step = m.step_graph(pos0, ids.len())?;
        let model = verify_step_model(args, committed.take(), step.graph)?;
        if file.model_digest != model.vk.digest_hex() {
            bail!("step {k} is for model {}, not this one", file.model_name);
        }
        zkml::verify_all(&model.vk, &file.inputs, &file.logits, &file.proof)
            .with_context(|| format!("step {k} is not a valid proof"))?;
        generated.push(greedy(&file.logits)?);
        committed = Some(model);
        prev = Some(file);
        k += 1;
        next = read(k)?;
    }
    // Every step file must have been read: no gap before a later step.
    let files = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("step-") && name.ends_with(".bin")
        })
        .count();
    ensure!(
        files == k,
        "{}: {files} step files, but steps 0..{k} are the only contiguous ones",
        dir.display()
    );
    Ok((prompt, generated))
}

/// Where a generation's prompt comes from.
pub enum Prompt {
    /// A JSON file of token ids.
    Ids(PathBuf),
    /// Text, tokenized with the model's tokenizer.
    Text(String),
}

/// `generate`: the prompt's ids, the steps proved into `out`, the ids (and text) printed.
pub fn generate_cmd(args: &ModelArgs, prompt: &Prompt, max_new: u64, out: &Path) -> Result<()> {
    let prompt = match prompt {
        Prompt::Ids(file) => crate::decoder::read_token_ids(file)?,
        Prompt::Text(text) => tokenizer(args)?.encode(text)?,
    };
    let t = Instant::now();
    let n = usize::try_from(max_new).unwrap_or(usize::MAX);
    let ids = generate(args, &prompt, n, out)?;
    println!(
        "generated {} tokens with {} proved steps in {:.1} s -> {}\nprompt {prompt:?}\ngenerated {ids:?}",
        ids.len(),
        ids.len(),
        t.elapsed().as_secs_f64(),
        out.display()
    );
    print_text(args, &prompt, &ids);
    Ok(())
}

/// `verify-generation`: every step of `dir` checked, the ids printed.
pub fn verify_generation_cmd(args: &ModelArgs, dir: &Path) -> Result<()> {
    let t = Instant::now();
    let (prompt, ids) = verify_generation(args, dir)?;
    println!(
        "valid generation: {} proved steps in {:.1} s\nprompt {prompt:?}\ngenerated {ids:?}",
        ids.len(),
        t.elapsed().as_secs_f64()
    );
    print_text(args, &prompt, &ids);
    Ok(())
}

/// The prompt and the generated tokens as text, when the model has a vocabulary.
fn print_text(args: &ModelArgs, prompt: &[usize], ids: &[usize]) {
    if let (Some(p), Some(g)) = (text(args, prompt), text(args, ids)) {
        println!("text: {p:?} -> {g:?}");
    }
}
