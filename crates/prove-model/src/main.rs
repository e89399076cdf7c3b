//! `prove-model`: prove, verify and inspect model inference from the command line.
//!
//! A thin edge: parses flags and files, calls `model_import::recipe` for the graph, its input
//! and its one forward pass, `zkml` to commit, prove and verify, and prints. No protocol or
//! import logic lives here. [`decoder`] is the edge of `--model-dir` (HuggingFace decoder
//! folders), [`files`] reads inputs and proofs.

mod decoder;
mod estimate;
mod files;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use model::{examples, Graph, Tensor};
use model_import::{
    decoder_graph, onnx_graph, prepare_decoder, prepare_onnx, DecoderSource, Prepared, QuantConfig,
};
use pcs::PcsConfig;
use zkml::circuit::{Circuit, GraphShape};
use zkml::config::check_security;
use zkml::proof::ProofFile;
use zkml::prover::Progress;
use zkml::{CacheStatus, CommittedModel, ProofConfig, ProofFormat};

#[derive(Parser)]
#[command(
    name = "prove-model",
    version,
    about = "Prove and verify ML inference with STWO"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the model on an input and write a proof of the result.
    Prove {
        #[command(flatten)]
        model: ModelArgs,
        /// Input as a JSON array of real numbers (quantised at the model's input scale), or
        /// of token ids with --model-dir; seeded random input if absent.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Seed of the random input.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Proof file to write.
        #[arg(long, default_value = "proof.bin")]
        output: PathBuf,
        /// Proof encoding.
        #[arg(long, value_enum, default_value_t = Format::Binary)]
        format: Format,
    },
    /// Check a proof file against a model.
    Verify {
        #[command(flatten)]
        model: ModelArgs,
        /// Proof file to check.
        #[arg(long, default_value = "proof.bin")]
        proof: PathBuf,
    },
    /// Print a model's layers, shapes and sizes.
    Inspect {
        #[command(flatten)]
        model: ModelArgs,
    },
}

#[derive(Args)]
struct ModelArgs {
    /// Built-in model name (mlp, tiny-mlp), or the path of an ONNX file (ending in .onnx).
    #[arg(long, default_value = "mlp")]
    model: String,
    /// A HuggingFace decoder folder (config.json and *.safetensors; Llama / Mistral shapes)
    /// instead of --model. The input is token ids; the output the logits.
    #[arg(long, conflicts_with = "model")]
    model_dir: Option<PathBuf>,
    /// With --model-dir: use the first N decoder layers (default: all).
    #[arg(long, requires = "model_dir", value_parser = clap::value_parser!(u64).range(1..))]
    layers: Option<u64>,
    /// With --model-dir: the number of tokens (default: as many as --input has, else 8).
    #[arg(long, requires = "model_dir", value_parser = clap::value_parser!(u64).range(1..))]
    seq_len: Option<u64>,
    /// Weight quantisation of an ONNX model or a --model-dir decoder. An ONNX model's
    /// activation scales are calibrated on the input (`verify` recalibrates on the input in
    /// the proof file).
    #[arg(long, value_enum, default_value_t = Quant::Symmetric8)]
    quant: Quant,
    /// log2 of the Reed-Solomon blowup of the commitment.
    #[arg(long)]
    log_blowup: Option<u32>,
    /// Number of commitment queries.
    #[arg(long)]
    n_queries: Option<usize>,
    /// Proof-of-work bits before the queries.
    #[arg(long)]
    pow_bits: Option<u32>,
    /// Where weight commitments are cached, keyed by the model's content hash
    /// (default: $XDG_CACHE_HOME/stwo-ml or ~/.cache/stwo-ml).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Always recommit the weights; neither read nor write the cache.
    #[arg(long)]
    no_cache: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Quant {
    /// Fixed point: activations 2^-8, weights 2^-10.
    Direct,
    /// Per-output-channel INT8 weights with power-of-two scales, activations 2^-8.
    Symmetric8,
    /// Group-wise INT4 weights (groups of 32 inputs per output channel), activations 2^-8.
    Int4,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Binary,
    Json,
}

impl ModelArgs {
    fn onnx_path(&self) -> Option<&Path> {
        self.model
            .ends_with(".onnx")
            .then(|| Path::new(&self.model))
    }

    fn quant(&self) -> QuantConfig {
        match self.quant {
            Quant::Direct => QuantConfig::direct(8, 10),
            Quant::Symmetric8 => QuantConfig::symmetric8(8),
            Quant::Int4 => QuantConfig::int4(8, 32),
        }
    }

    /// The `--model-dir` decoder, if that is the model.
    fn decoder(&self) -> Option<DecoderSource> {
        let size = |v: Option<u64>| v.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        Some(DecoderSource {
            dir: self.model_dir.clone()?,
            layers: size(self.layers),
            seq_len: size(self.seq_len),
            quant: self.quant(),
        })
    }

    fn example(&self) -> Result<Graph> {
        match examples::by_name(&self.model) {
            Some(g) => Ok(g),
            None => bail!(
                "unknown model '{}': built-in models are {} (or give a path ending in .onnx)",
                self.model,
                examples::NAMES.join(", ")
            ),
        }
    }

    /// The graph to prove, its quantised input (read from `input`, else seeded), its forward
    /// pass and, for ONNX and decoders, the dual-track report.
    fn prepare(&self, input: Option<&Path>, seed: u64) -> Result<Prepared> {
        if let Some(d) = self.decoder() {
            let ids = input.map(decoder::read_token_ids).transpose()?;
            return prepare_decoder(&d, ids, seed).map_err(|e| decoder::explain(e, input));
        }
        if let Some(path) = self.onnx_path() {
            let reals = input.map(files::read_values).transpose()?;
            return Ok(prepare_onnx(path, &self.quant(), reals.as_deref(), seed)?);
        }
        let graph = self.example()?;
        let x = match input {
            Some(p) => files::read_input(p, &graph)?,
            None => examples::random_input(&graph, seed),
        };
        Ok(Prepared::execute(graph, x)?)
    }

    /// The model's graph; an ONNX model is calibrated on `input` (default: seeded input), a
    /// decoder is built for `input`'s token ids.
    fn graph(&self, input: Option<&Tensor>) -> Result<Graph> {
        if let Some(d) = self.decoder() {
            return Ok(decoder_graph(&d, input)
                .map_err(|e| decoder::explain(e, None))?
                .0);
        }
        if let Some(path) = self.onnx_path() {
            return Ok(onnx_graph(path, &self.quant(), input)?);
        }
        self.example()
    }

    fn config(&self) -> Result<ProofConfig> {
        let mut pcs = PcsConfig::default();
        if let Some(v) = self.log_blowup {
            pcs.log_blowup = v;
        }
        if let Some(v) = self.n_queries {
            pcs.n_queries = v;
        }
        if let Some(v) = self.pow_bits {
            pcs.pow_bits = v;
        }
        pcs.validate().context("invalid commitment configuration")?;
        Ok(ProofConfig {
            pcs,
            max_weight_poly_vars: pcs.max_n_variables(),
        })
    }

    fn cache_dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        self.cache_dir.clone().or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(base.join("stwo-ml"))
        })
    }

    /// Commits to `graph`'s weights, after refusing a configuration that gives this model less
    /// than `zkml::config::MIN_SECURITY_BITS` (the check `zkml::verify` makes too).
    fn commit(&self, graph: Graph) -> Result<(CommittedModel, CacheStatus)> {
        let config = self.config()?;
        model::graph::validate(&graph).context("invalid model")?;
        let circuit = Circuit::new(GraphShape::of(&graph)).context("model structure")?;
        check_security(&config, &circuit).context("refusing the configuration")?;
        let dir = self.cache_dir();
        CommittedModel::load_or_commit(graph, config, dir.as_deref())
            .context("committing to the model")
    }
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn stage(&self, name: &str, step: usize, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_position(step as u64 - 1);
        self.0.set_message(name.to_string());
    }
}

/// Output values printed in full up to this many.
const PREVIEW: usize = 32;

/// `values` as a list, the first [`PREVIEW`] of them when there are more.
fn preview(values: &[i64]) -> String {
    if values.len() <= PREVIEW {
        return format!("{values:?}");
    }
    let head: Vec<String> = values[..PREVIEW].iter().map(i64::to_string).collect();
    format!("[{}, ... ({} values)]", head.join(", "), values.len())
}

fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Prove {
            model,
            input,
            seed,
            output,
            format,
        } => {
            let Prepared {
                graph,
                input: x,
                trace,
                report,
            } = model.prepare(input.as_deref(), seed)?;
            let t0 = Instant::now();
            let (committed, cache) = model.commit(graph)?;
            let commit_ms = t0.elapsed().as_secs_f64() * 1e3;
            let commit_note = match &cache {
                CacheStatus::Loaded => {
                    format!("weight commitment loaded from cache in {commit_ms:.0} ms")
                }
                CacheStatus::StoreFailed(e) => {
                    format!("weights committed in {commit_ms:.0} ms; cache not written: {e}")
                }
                _ => format!("weights committed in {commit_ms:.0} ms"),
            };
            let graph = &committed.graph;
            let bar = ProgressBar::new(5);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{bar:20}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let t1 = Instant::now();
            let inputs = std::slice::from_ref(&x);
            let (y, proof) = zkml::prove_executed(&committed, inputs, &trace, &Bar(bar.clone()))
                .context("proving")?;
            drop(trace);
            let prove_ms = t1.elapsed().as_secs_f64() * 1e3;
            bar.finish_and_clear();
            let circuit = &committed.circuit;
            let config = &committed.vk.config;
            let bits = check_security(config, circuit)?;
            let provable = zkml::config::provable_commitment_bits(config, circuit)?;
            let file = ProofFile::new(&committed, x, y, proof);
            let fmt = match format {
                Format::Binary => ProofFormat::Binary,
                Format::Json => ProofFormat::Json,
            };
            let bytes = file.encode(fmt).context("encoding the proof")?;
            std::fs::write(&output, &bytes)
                .with_context(|| format!("writing {}", output.display()))?;
            println!(
                "proved {} in {prove_ms:.0} ms ({commit_note}): proof {} ({} file), {bits}-bit security (commitment provably {provable}) -> {}",
                graph.name,
                kib(file.proof.size_bytes()),
                kib(bytes.len()),
                output.display()
            );
            let out_scale = graph.nodes[graph.output].scale;
            let real: Vec<String> = file
                .output
                .data
                .iter()
                .take(PREVIEW)
                .map(|&v| format!("{:.4}", v as f64 / (1u64 << out_scale) as f64))
                .collect();
            println!(
                "output: {} (x 2^-{out_scale} = [{}{}])",
                preview(&file.output.data),
                real.join(", "),
                if file.output.data.len() > PREVIEW {
                    ", ..."
                } else {
                    ""
                }
            );
            if let Some(report) = report {
                println!("{report}");
            }
        }
        Command::Verify { model, proof } => {
            let bytes = files::read_proof(&proof)?;
            let file = ProofFile::decode(&bytes)
                .with_context(|| format!("decoding {}", proof.display()))?;
            let graph = model.graph(Some(&file.input))?;
            let (committed, _) = model.commit(graph)?;
            if let Some(dir) = &model.model_dir {
                decoder::check_proof_source(&file, &committed, dir)?;
            }
            let t = Instant::now();
            zkml::verify(&committed.vk, &file.input, &file.output, &file.proof).with_context(
                || {
                    format!(
                        "{} is not a valid proof for model {}",
                        proof.display(),
                        committed.graph.name
                    )
                },
            )?;
            println!(
                "valid: {} proves output {} of model {} ({}) in {:.1} ms",
                proof.display(),
                preview(&file.output.data),
                committed.graph.name,
                committed.vk.digest_hex(),
                t.elapsed().as_secs_f64() * 1e3
            );
        }
        Command::Inspect { model } => {
            let graph = match model.decoder() {
                Some(d) => {
                    let (graph, summary) =
                        decoder_graph(&d, None).map_err(|e| decoder::explain(e, None))?;
                    println!("{summary}");
                    graph
                }
                None => model.graph(None)?,
            };
            println!(
                "model {}: {} parameters, {} MACs per pass",
                graph.name,
                graph.n_params(),
                graph.n_macs()
            );
            println!("{}", estimate::Estimate::of(&graph)?);
            for (id, node) in graph.nodes.iter().enumerate() {
                println!(
                    "  {id:>3} {:<9} {:>5}x{:<5} scale 2^-{}",
                    node.op.kind(),
                    node.shape.rows,
                    node.shape.cols,
                    node.scale
                );
            }
        }
    }
    Ok(())
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
