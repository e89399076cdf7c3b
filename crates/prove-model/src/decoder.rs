//! `--model-dir`: a HuggingFace decoder folder as the model and token ids as the input.
//!
//! The graph is [`DecoderModel::graph`] (embedding, the first `--layers` blocks, final norm,
//! LM head; the output is the logits) for as many positions as there are token ids. The proof
//! file carries the token ids, so `verify` rebuilds the graph for the same sequence length from
//! the same folder, `--layers` and `--quant`, with the norms calibrated on the same token ids
//! (an `f32` forward pass, [`DecoderModel::calibrate`]); the graph's name (family and layer count) and
//! the model digest are checked against the file before the proof is.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use model::{execute, Graph, Tensor};
use model_import::hf::track::checkpoint_options;
use model_import::hf::{Checkpoint, DecoderModel, DecoderWeights, LoadOptions};
use model_import::QuantConfig;
use serde_json::Value;
use zkml::proof::ProofFile;
use zkml::CommittedModel;

/// Sequence length of the seeded input and of `inspect` when none is given.
pub const DEFAULT_SEQ_LEN: usize = 8;

/// What `--model-dir` and its companion flags say.
pub struct Source<'a> {
    pub dir: &'a Path,
    pub layers: Option<usize>,
    pub seq_len: Option<usize>,
    pub quant: QuantConfig,
}

/// An opened folder with its decoder loaded for one sequence length.
pub struct Loaded {
    pub ckpt: Checkpoint,
    pub weights: DecoderWeights,
    pub model: DecoderModel,
}

impl Source<'_> {
    fn open(&self) -> Result<Checkpoint> {
        let dir = self.dir;
        if !dir.is_dir() {
            bail!("--model-dir {}: no such folder", dir.display());
        }
        if !dir.join("config.json").is_file() {
            bail!(
                "--model-dir {}: no config.json (expected a HuggingFace checkpoint folder with \
                 config.json and *.safetensors)",
                dir.display()
            );
        }
        Checkpoint::open(dir).with_context(|| format!("opening {}", dir.display()))
    }

    /// The sequence length: that of `ids` when given (and `--seq-len`, when also given, must
    /// agree), else `--seq-len`, else [`DEFAULT_SEQ_LEN`].
    fn seq_len(&self, ids: Option<usize>) -> Result<usize> {
        match (ids, self.seq_len) {
            (Some(n), Some(s)) if n != s => {
                bail!("the input has {n} token ids but --seq-len is {s}")
            }
            (Some(n), _) | (None, Some(n)) => Ok(n),
            (None, None) => Ok(DEFAULT_SEQ_LEN),
        }
    }

    fn load(&self, ckpt: Checkpoint, seq_len: usize) -> Result<Loaded> {
        let options = LoadOptions {
            quant: self.quant,
            layers: self.layers,
        };
        let weights = ckpt
            .load_decoder(&options)
            .with_context(|| format!("loading {}", self.dir.display()))?;
        let model = DecoderModel::new(&weights, seq_len)
            .with_context(|| format!("building the decoder of {}", self.dir.display()))?;
        Ok(Loaded {
            ckpt,
            weights,
            model,
        })
    }

    /// The graph for `seq_len` rows of token ids (`input`: the proof file's), and a summary.
    pub fn graph(&self, input: Option<&Tensor>) -> Result<(Graph, String)> {
        let seq_len = self.seq_len(input.map(|x| x.shape.rows))?;
        let mut loaded = self.load(self.open()?, seq_len)?;
        if let Some(x) = input {
            let ids = x
                .data
                .iter()
                .map(|&v| usize::try_from(v).map_err(|_| anyhow!("token id {v} is negative")))
                .collect::<Result<Vec<_>>>()?;
            loaded
                .model
                .calibrate(&ids)
                .context("calibrating the norms on the proof's token ids")?;
        }
        let summary = summary(&loaded, self.dir);
        Ok((loaded.model.graph()?, summary))
    }

    /// The graph, the token ids of `input` (or `seed`ed ones) as its input, and the dual-track
    /// report of the integer run against `f32`.
    pub fn prepare(&self, input: Option<&Path>, seed: u64) -> Result<(Graph, Tensor, String)> {
        let ckpt = self.open()?;
        let vocab = ckpt.config.vocab_size;
        let ids = match input {
            Some(p) => Some(read_token_ids(p)?),
            None => None,
        };
        let seq_len = self.seq_len(ids.as_ref().map(Vec::len))?;
        let ids = ids.unwrap_or_else(|| seeded_ids(seq_len, vocab, seed));
        let mut loaded = self.load(ckpt, seq_len)?;
        let x = loaded.model.input(&ids).with_context(|| match input {
            Some(p) => format!("input {}", p.display()),
            None => "seeded input".into(),
        })?;
        loaded
            .model
            .calibrate(&ids)
            .context("calibrating the norms on the token ids")?;
        let (graph, block_nodes) = loaded.model.graph_with_blocks()?;
        let trace = execute(&graph, &x).context("running the decoder")?;
        let fine = loaded
            .ckpt
            .load_decoder(&checkpoint_options(self.layers))
            .with_context(|| format!("loading {} for the f32 reference", self.dir.display()))?;
        let track = loaded
            .model
            .dual_track(&ids, trace.output(&graph), Some(&fine))?;
        let mut track = track;
        track.blocks = loaded.model.block_errors(&ids, &trace, &block_nodes)?;
        Ok((graph, x, track.to_string()))
    }
}

fn summary(l: &Loaded, dir: &Path) -> String {
    let c = &l.weights.config;
    format!(
        "checkpoint {}: {:?}, hidden {}, {} heads ({} KV) of {}, FFN {}, vocab {}, {} of {} \
         layers loaded ({} parameters), graph for {} tokens",
        dir.display(),
        c.family,
        c.hidden_size,
        c.num_attention_heads,
        c.num_key_value_heads,
        c.head_dim,
        c.intermediate_size,
        c.vocab_size,
        l.weights.layers.len(),
        c.num_hidden_layers,
        l.weights.n_params(),
        l.model.config.seq_len
    )
}

/// Token ids from a JSON array of non-negative integers.
pub fn read_token_ids(path: &Path) -> Result<Vec<usize>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let what = || format!("{}: expected a JSON array of token ids", path.display());
    let value: Value = serde_json::from_str(&text).with_context(what)?;
    let Value::Array(items) = value else {
        return Err(anyhow!("{}", what()));
    };
    if items.is_empty() {
        bail!("{}: no token ids", path.display());
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    anyhow!(
                        "{}: entry {i} is {v}; token ids are non-negative integers",
                        path.display()
                    )
                })
        })
        .collect()
}

/// `n` token ids below `vocab` from `seed`.
fn seeded_ids(n: usize, vocab: usize, seed: u64) -> Vec<usize> {
    model_import::seeded_uniform(seed)
        .take(n)
        .map(|u| ((u * vocab as f32) as usize).min(vocab.saturating_sub(1)))
        .collect()
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
