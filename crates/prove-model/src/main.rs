//! `prove-model`: prove, verify and inspect model inference from the command line.
//!
//! A thin edge: parses flags and files, calls `model_import::recipe` for the graph, its input
//! and its one forward pass, `zkml` to commit, prove and verify, and prints. No protocol or
//! import logic lives here. [`decoder`] is the edge of `--model-dir` (HuggingFace decoder
//! folders), [`files`] reads inputs and proofs, [`args`] turns the model flags into the
//! library's configuration.

mod args;
mod audit_cmd;
mod decoder;
mod encoder;
mod estimate;
mod files;
mod generate;
mod report;
mod setup;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use args::ModelArgs;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use model_import::{decoder_graph, Comparison, Prepared};
use zkml::config::check_security;
use zkml::proof::ProofFile;
use zkml::prover::Progress;
use zkml::{CacheStatus, ProofFormat};

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
        /// Also write the run as JSON: outputs (real numbers), shapes, errors against f32 (per
        /// layer), timings and sizes.
        #[arg(long)]
        report: Option<PathBuf>,
        /// ONNX models: pick --act-bits (and, with --quant direct, --weight-bits) over a grid
        /// by the output's measured error against f32 on the input; prints the flags that
        /// `verify` needs.
        #[arg(long, conflicts_with = "vk")]
        calibrate: bool,
        /// Prove against this verifying key (`setup`): the model's scales are the key's, the
        /// flags must be the setup's, and a model whose weights or structure differ is
        /// refused.
        #[arg(long)]
        vk: Option<PathBuf>,
    },
    /// Fix a model's scales and commitment and write its verifying key: the model's identity
    /// (its digest, printed as hex), all a verifier needs.
    Setup {
        #[command(flatten)]
        model: ModelArgs,
        /// Inputs to calibrate the scales on (the format of `prove --input`); a seeded sample
        /// if absent.
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// Seed of the sample when no --calibration is given.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Verifying key file to write.
        #[arg(long, default_value = "model.vk")]
        vk_out: PathBuf,
    },
    /// Check a proof file against a model, or against a verifying key alone (--vk).
    Verify {
        #[command(flatten)]
        model: ModelArgs,
        /// Proof file to check.
        #[arg(long, default_value = "proof.bin")]
        proof: PathBuf,
        /// Verify against this key file: no model files, no cache (the model flags are not
        /// read).
        #[arg(long)]
        vk: Option<PathBuf>,
        /// With --vk: refuse a key whose model digest is not this (hex).
        #[arg(long, requires = "vk")]
        expect_digest: Option<String>,
    },
    /// Print a model's layers, shapes and sizes, or a verifying key (--vk).
    Inspect {
        #[command(flatten)]
        model: ModelArgs,
        /// Print this key file instead of a model.
        #[arg(long)]
        vk: Option<PathBuf>,
    },
    /// Greedy decoding of a --model-dir / --gguf decoder with every step proved: the prompt's
    /// prefill, then one step per token, each written as step-NNN.bin into --output-dir.
    Generate {
        #[command(flatten)]
        model: ModelArgs,
        /// The prompt: a JSON array of token ids.
        #[arg(long, required_unless_present = "prompt", conflicts_with = "prompt")]
        input: Option<PathBuf>,
        /// The prompt as text, tokenized with the model folder's tokenizer.json (or a GGUF
        /// file's vocabulary and merges).
        #[arg(long)]
        prompt: Option<String>,
        /// Tokens to generate (one proved step each).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=4096))]
        max_new_tokens: u64,
        /// Folder for the step proofs.
        #[arg(long, default_value = "generation")]
        output_dir: PathBuf,
    },
    /// Check a generation's step proofs: each step's proof, the K/V cache chain between steps,
    /// and that each token is the greedy choice of the proved logits before it.
    VerifyGeneration {
        #[command(flatten)]
        model: ModelArgs,
        /// Folder of the step proofs.
        #[arg(long, default_value = "generation")]
        proofs: PathBuf,
    },
    /// Prove a window of an inference log and check the report (`audit prove`, `audit verify`).
    Audit {
        #[command(subcommand)]
        action: audit_cmd::AuditCommand,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Binary,
    Json,
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
    if let Command::Prove { model, .. }
    | Command::Setup { model, .. }
    | Command::Verify { model, .. }
    | Command::Inspect { model, .. }
    | Command::Generate { model, .. }
    | Command::VerifyGeneration { model, .. } = &cli.command
    {
        model.check()?;
    }
    match cli.command {
        Command::Audit { action } => audit_cmd::run(action),
        Command::Prove {
            model,
            input,
            seed,
            output,
            format,
            report,
            calibrate,
            vk,
        } => {
            let key = vk.as_deref().map(setup::read_key).transpose()?;
            let opts = ProveOpts {
                seed,
                output: &output,
                format,
                report: report.as_deref(),
                calibrate,
                key: key.as_ref(),
            };
            prove(&model, input.as_deref(), &opts)
        }
        Command::Setup {
            model,
            calibration,
            seed,
            vk_out,
        } => setup::setup(&model, calibration.as_deref(), seed, &vk_out).map(drop),
        Command::Verify {
            model,
            proof,
            vk,
            expect_digest,
        } => match vk {
            Some(key) => setup::verify_with_key(&key, &proof, expect_digest.as_deref()),
            None => verify(&model, &proof),
        },
        Command::Generate {
            model,
            input,
            prompt,
            max_new_tokens,
            output_dir,
        } => {
            let prompt = match (input, prompt) {
                (Some(file), _) => generate::Prompt::Ids(file),
                (None, Some(text)) => generate::Prompt::Text(text),
                (None, None) => anyhow::bail!("give the prompt with --input or --prompt"),
            };
            generate::generate_cmd(&model, &prompt, max_new_tokens, &output_dir)
        }
        Command::VerifyGeneration { model, proofs } => {
            generate::verify_generation_cmd(&model, &proofs)
        }
        Command::Inspect { model, vk } => match vk {
            Some(key) => setup::inspect_key(&key),
            None => inspect(&model),
        },
    }
}

/// `prove`'s flags besides the model and the input.
struct ProveOpts<'a> {
    seed: u64,
    output: &'a std::path::Path,
    format: Format,
    report: Option<&'a std::path::Path>,
    calibrate: bool,
    /// The verifying key to prove against.
    key: Option<&'a zkml::KeyFile>,
}

/// `prove`: prepare, commit, prove, write the proof file, print the result and the report.
fn prove(model: &ModelArgs, input: Option<&std::path::Path>, opts: &ProveOpts<'_>) -> Result<()> {
    let (seed, output) = (opts.seed, opts.output);
    let prepared = if let Some(key) = opts.key {
        setup::prepare_for_key(model, key, input, seed)?
    } else if opts.calibrate {
        let (p, summary) = model.prepare_calibrated(input, seed)?;
        println!("{summary}");
        p
    } else {
        model.prepare(input, seed)?
    };
    let Prepared {
        graph,
        inputs,
        trace,
        report,
        outputs: named,
    } = prepared;
    let t0 = Instant::now();
    let (committed, cache) = model.commit(graph)?;
    if let Some(key) = opts.key {
        setup::check_against_key(&committed, key)?;
    }
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
    let (y, proof) =
        zkml::prove_executed(&committed, &inputs, &trace, &Bar(bar.clone())).context("proving")?;
    let more_outputs = trace.more_outputs(&committed.graph);
    drop(trace);
    let prove_ms = t1.elapsed().as_secs_f64() * 1e3;
    bar.finish_and_clear();
    let circuit = &committed.circuit;
    let config = &committed.vk.config;
    let bits = check_security(config, circuit)?;
    let provable = zkml::config::provable_commitment_bits(config, circuit)?;
    let file = ProofFile::new_all(&committed, inputs, y, proof).with_more_outputs(more_outputs);
    let fmt = match opts.format {
        Format::Binary => ProofFormat::Binary,
        Format::Json => ProofFormat::Json,
    };
    let bytes = file.encode(fmt).context("encoding the proof")?;
    std::fs::write(output, &bytes).with_context(|| format!("writing {}", output.display()))?;
    println!(
        "proved {} in {prove_ms:.0} ms ({commit_note}): proof {} ({} file), {bits}-bit security (commitment provably {provable}) -> {}",
        graph.name,
        kib(file.proof.size_bytes()),
        kib(bytes.len()),
        output.display()
    );
    let fallback = match report {
        Some(Comparison::Decoder(_)) => "logits",
        _ => "output",
    };
    let shown = report::shown_outputs(graph, &file, &named, fallback)?;
    for o in &shown {
        print_output(o, shown.len() > 1);
    }
    if let Some(path) = opts.report {
        report::write(
            path,
            &report::Run {
                model: &graph.name,
                digest: committed.vk.digest_hex(),
                outputs: &shown,
                comparison: report.as_ref(),
                commit_ms,
                prove_ms,
                proof_bytes: file.proof.size_bytes(),
                file_bytes: bytes.len(),
                security_bits: bits,
            },
        )?;
    }
    if let Some(report) = report {
        println!("{report}");
    }
    Ok(())
}

/// Prints one output: its integers and real values (the first [`PREVIEW`]), named when the
/// model has several.
fn print_output(o: &report::Shown, named: bool) {
    let label = if named {
        format!("output '{}' {:?}", o.name, o.dims)
    } else {
        "output".to_string()
    };
    if let Some([n, c, h, w]) = o.nchw {
        println!(
            "{label}: a {n}x{c}x{h}x{w} feature map, proved channels-last ({} rows of {c}); \
             real values below in NCHW order",
            n * h * w
        );
    }
    let real: Vec<String> = o
        .reals()
        .iter()
        .take(PREVIEW)
        .map(|v| format!("{v:.4}"))
        .collect();
    println!(
        "{label}: {} (x 2^-{} = [{}{}])",
        preview(&o.ints),
        o.scale,
        real.join(", "),
        if o.ints.len() > PREVIEW { ", ..." } else { "" }
    );
}

/// `verify`: rebuild and commit the model of the proof file, check the proof.
fn verify(model: &ModelArgs, proof: &std::path::Path) -> Result<()> {
    let bytes = files::read_proof(proof)?;
    let file =
        ProofFile::decode(&bytes).with_context(|| format!("decoding {}", proof.display()))?;
    let inputs = file.inputs();
    let graph = model.graph(Some(&inputs))?;
    let committed = model.commit_fresh(graph)?;
    if let Some(dir) = &model.model_dir {
        decoder::check_proof_source(&file, &committed, dir)?;
    }
    let t = Instant::now();
    let outputs = file.outputs();
    zkml::verify_outputs(&committed.vk, &inputs, &outputs, &file.proof).with_context(|| {
        format!(
            "{} is not a valid proof for model {}",
            proof.display(),
            committed.graph.name
        )
    })?;
    let more = match outputs.len() {
        1 => String::new(),
        n => format!(" (and {} more outputs)", n - 1),
    };
    println!(
        "valid: {} proves output {}{more} of model {} ({}) in {:.1} ms",
        proof.display(),
        preview(&file.output.data),
        committed.graph.name,
        committed.vk.digest_hex(),
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// `inspect`: the model's layers, shapes and sizes.
fn inspect(model: &ModelArgs) -> Result<()> {
    let decoder = match model.encoder()? {
        Some(_) => None,
        None => model.decoder(),
    };
    let graph = match decoder {
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
    Ok(())
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
