//! The flags that say which model, how to quantise, prove and cache it, turned into the
//! library's typed configuration: a [`Prepared`] graph from `model_import::recipe`, a
//! [`ProofConfig`], a committed model.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use model::{examples, Graph, Tensor};
use model_import::hf::bert::BertConfig;
use model_import::recipe::{
    calibrate_onnx, encoder_graph, prepare_encoder, prepare_onnx_fixed, EncoderSource, OnnxFile,
    OnnxInputs,
};
use model_import::{
    decoder_graph, onnx_graph, prepare_decoder, prepare_onnx, DecoderSource, Prepared, QuantConfig,
};
use pcs::PcsConfig;
use zkml::circuit::{Circuit, GraphShape};
use zkml::config::check_security;
use zkml::{CacheStatus, CommittedModel, ProofConfig};

use crate::{decoder, encoder, files};

#[derive(Args)]
pub struct ModelArgs {
    /// Built-in model name (mlp, tiny-mlp), or the path of an ONNX file (ending in .onnx).
    #[arg(long, default_value = "mlp")]
    model: String,
    /// A HuggingFace decoder folder (config.json and *.safetensors; Llama / Mistral / Qwen
    /// shapes), or a llama-family GGUF file (ending in .gguf), instead of --model: the input is
    /// token ids, the output the logits. Or a BERT folder (model_type "bert"): the input is
    /// token ids or {"input_ids", "attention_mask"}, the outputs last_hidden_state and the
    /// mean-pooled sentence_embedding.
    #[arg(long, visible_alias = "gguf", conflicts_with = "model")]
    pub model_dir: Option<PathBuf>,
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
    /// With --quant direct: fractional bits of the weights (default 10). For real decoder
    /// checkpoints 11 was measured the most accurate (SmolLM2-135M, 30 layers: logits max rel
    /// 0.013, against 0.057 for per-channel INT8).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=16))]
    weight_bits: Option<u32>,
    /// ONNX models: fractional bits of the input, and the finest scale any activation gets
    /// (default 8; each tensor is lowered to what its calibrated magnitude allows).
    /// `prove --calibrate` picks it (and --weight-bits) by measured error.
    #[arg(long, value_parser = clap::value_parser!(u32).range(4..=14))]
    act_bits: Option<u32>,
    /// ONNX models: the input's shape, e.g. 1x3x64x64, for inputs with symbolic dimensions
    /// (default: each symbolic dimension 1). `verify` needs the same.
    #[arg(long, value_parser = parse_shape)]
    input_shape: Option<Shape>,
    /// ONNX models: the outputs to prove, by name, comma-separated (default: every output of
    /// the graph). `verify` needs the same.
    #[arg(long, value_delimiter = ',')]
    outputs: Vec<String>,
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

/// An input shape on the command line (`1x3x64x64`).
#[derive(Clone, Debug)]
pub struct Shape(Vec<usize>);

fn parse_shape(s: &str) -> Result<Shape, String> {
    let dims = s
        .split('x')
        .map(|d| d.trim().parse::<usize>().ok().filter(|&d| d > 0))
        .collect::<Option<Vec<usize>>>()
        .filter(|d| !d.is_empty() && d.len() <= 8)
        .ok_or_else(|| format!("{s:?}: expected dimensions like 1x3x64x64"))?;
    Ok(Shape(dims))
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

impl ModelArgs {
    /// The ONNX model with its `--input-shape`, if that is the model.
    fn onnx(&self) -> Option<OnnxFile<'_>> {
        Some(OnnxFile {
            path: self.onnx_path()?,
            shapes: vec![self.input_shape.as_ref().map(|s| s.0.clone())],
            outputs: self.outputs.clone(),
        })
    }

    fn onnx_path(&self) -> Option<&Path> {
        self.model
            .ends_with(".onnx")
            .then(|| Path::new(&self.model))
    }

    /// Refuses flags that do not go together beyond what clap checks.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.weight_bits.is_some() && !matches!(self.quant, Quant::Direct) {
            anyhow::bail!("--weight-bits is for --quant direct");
        }
        if self.act_bits.is_some() && self.onnx_path().is_none() {
            anyhow::bail!("--act-bits is for ONNX models (--model FILE.onnx)");
        }
        if self.input_shape.is_some() && self.onnx_path().is_none() {
            anyhow::bail!("--input-shape is for ONNX models (--model FILE.onnx)");
        }
        if !self.outputs.is_empty() && self.onnx_path().is_none() {
            anyhow::bail!("--outputs is for ONNX models (--model FILE.onnx)");
        }
        Ok(())
    }

    fn quant(&self) -> QuantConfig {
        let act = self.act_bits.unwrap_or(8);
        match self.quant {
            Quant::Direct => QuantConfig::direct(act, self.weight_bits.unwrap_or(10)),
            Quant::Symmetric8 => QuantConfig::symmetric8(act),
            Quant::Int4 => QuantConfig::int4(act, 32),
        }
    }

    /// The settings that choose the graph, as `(flag, value)` pairs in a fixed order, for a
    /// verifying key's setup record: the model by its file name (where it lies may differ
    /// between setup and proving; the weights are checked through the commitment), the
    /// quantisation with its defaults filled in, the shapes, outputs and proof configuration.
    pub fn settings(&self) -> Vec<(String, String)> {
        let file_name = |p: &Path| {
            p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        };
        let q = self.quant();
        let config = self.config().ok();
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |n| n.to_string());
        let pcs = |f: &dyn Fn(&PcsConfig) -> String| config.map_or("-".into(), |c| f(&c.pcs));
        vec![
            (
                "--model".into(),
                match &self.model_dir {
                    Some(d) => format!("dir:{}", file_name(d)),
                    None => file_name(Path::new(&self.model)),
                },
            ),
            ("--layers".into(), opt(self.layers)),
            ("--seq-len".into(), opt(self.seq_len)),
            ("--quant".into(), q.strategy.name().into()),
            ("--act-bits".into(), q.act_scale_bits.to_string()),
            ("--weight-bits".into(), q.weight_scale_bits.to_string()),
            (
                "--input-shape".into(),
                self.input_shape
                    .as_ref()
                    .map_or("-".into(), |s| format!("{:?}", s.0)),
            ),
            ("--outputs".into(), self.outputs.join(",")),
            ("--log-blowup".into(), pcs(&|p| p.log_blowup.to_string())),
            ("--n-queries".into(), pcs(&|p| p.n_queries.to_string())),
            ("--pow-bits".into(), pcs(&|p| p.pow_bits.to_string())),
        ]
    }

    /// Whether the model's scales are calibrated on an input (every model but a built-in one).
    pub fn calibrates(&self) -> bool {
        self.model_dir.is_some() || self.onnx_path().is_some()
    }

    /// [`Self::prepare`] with the scales fixed by the quantised calibration inputs `calib` (a
    /// verifying key's): the graph is built for `calib`, then run on the input (read from
    /// `input`, else seeded), which must have the calibration's shapes.
    pub fn prepare_fixed(
        &self,
        calib: &[Tensor],
        input: Option<&Path>,
        seed: u64,
    ) -> Result<Prepared> {
        if !self.calibrates() {
            return self.prepare(input, seed);
        }
        if let Some(path) = self.onnx() {
            let (path, reals) = self.onnx_input(path, input)?;
            return Ok(prepare_onnx_fixed(
                path,
                &self.quant(),
                calib,
                reals.as_deref(),
                seed,
            )?);
        }
        let graph = self.graph(Some(calib))?;
        let inputs = match (self.encoder()?, input) {
            (Some((_, config)), Some(p)) => encoder::read_input(p, &config)?,
            (Some((_, config)), None) => {
                let n = calib.first().map_or(8, |x| x.data.len());
                encoder::seeded_input(&config, n, seed)?
            }
            (None, Some(p)) => {
                let ids = decoder::read_token_ids(p)?;
                let data = ids.iter().map(|&i| i as i64).collect::<Vec<_>>();
                vec![Tensor::new(model::Shape::new(data.len(), 1), data)]
            }
            (None, None) => bail!("give the token ids with --input (the key fixes their number)"),
        };
        for (i, (x, c)) in inputs.iter().zip(calib).enumerate() {
            if x.shape != c.shape {
                bail!(
                    "input {i} has shape {}x{}, the key's model takes {}x{}",
                    x.shape.rows,
                    x.shape.cols,
                    c.shape.rows,
                    c.shape.cols
                );
            }
        }
        let trace = model::execute::execute_all(&graph, &inputs)
            .context("the input leaves the ranges the key's scales were calibrated for")?;
        Ok(Prepared {
            graph,
            inputs,
            trace,
            report: None,
            outputs: Vec::new(),
        })
    }

    /// The flags that give `config` (what `verify` needs after `prove --calibrate`).
    pub fn flags_for(&self, config: &QuantConfig) -> String {
        let mut f = format!("--act-bits {}", config.act_scale_bits);
        if matches!(self.quant, Quant::Direct) {
            f.push_str(&format!(" --weight-bits {}", config.weight_scale_bits));
        }
        f
    }

    /// [`Self::prepare`] for an ONNX model with its scales picked over a grid by measured
    /// error (`model_import::recipe::calibrate_onnx`): the prepared model, and a summary of
    /// the trials and the flags that rebuild the chosen setting.
    pub fn prepare_calibrated(
        &self,
        input: Option<&Path>,
        seed: u64,
    ) -> Result<(Prepared, String)> {
        let Some(path) = self.onnx() else {
            bail!("--calibrate is for ONNX models (--model FILE.onnx)");
        };
        let (path, reals) = self.onnx_input(path, input)?;
        let (p, chosen, trials) = calibrate_onnx(path, &self.quant(), reals.as_deref(), seed)?;
        let ran = trials.iter().filter(|t| t.result.is_ok()).count();
        let err = trials
            .iter()
            .find(|t| t.config == chosen)
            .and_then(|t| t.result.as_ref().ok().copied());
        let summary = format!(
            "calibrated over {} settings ({ran} ran): {} (output max abs error {}); verify with \
             the same flags",
            trials.len(),
            self.flags_for(&chosen),
            err.map_or("-".into(), |e| format!("{e:.2e}")),
        );
        Ok((p, summary))
    }

    /// The `--model-dir` encoder, if that is the model (a BERT `config.json`).
    pub fn encoder(&self) -> Result<Option<(EncoderSource, BertConfig)>> {
        let Some(dir) = &self.model_dir else {
            return Ok(None);
        };
        let Some(config) = EncoderSource::config(dir)? else {
            return Ok(None);
        };
        let layers = self
            .layers
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let src = EncoderSource {
            dir: dir.clone(),
            layers,
            quant: self.quant(),
        };
        Ok(Some((src, config)))
    }

    /// The `--model-dir` decoder, if that is the model.
    pub fn decoder(&self) -> Option<DecoderSource> {
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
    pub fn prepare(&self, input: Option<&Path>, seed: u64) -> Result<Prepared> {
        if let Some((src, config)) = self.encoder()? {
            let inputs = match input {
                Some(p) => encoder::read_input(p, &config)?,
                None => {
                    let n = self.seq_len.map_or(Ok(8), usize::try_from)?;
                    encoder::seeded_input(&config, n, seed)?
                }
            };
            return Ok(prepare_encoder(&src, &config, inputs)?);
        }
        if let Some(d) = self.decoder() {
            let ids = input.map(decoder::read_token_ids).transpose()?;
            return prepare_decoder(&d, ids, seed).map_err(|e| decoder::explain(e, input));
        }
        if let Some(path) = self.onnx() {
            let (path, reals) = self.onnx_input(path, input)?;
            return Ok(prepare_onnx(path, &self.quant(), reals.as_deref(), seed)?);
        }
        let graph = self.example()?;
        let x = match input {
            Some(p) => files::read_input(p, &graph)?,
            None => examples::random_input(&graph, seed),
        };
        Ok(Prepared::execute(graph, x)?)
    }

    /// The ONNX input file's values in input order (`None` without a file) and the model file
    /// with the input shapes the JSON's nesting gives (`--input-shape` for the first input
    /// where the JSON is a flat array).
    fn onnx_input<'a>(
        &self,
        mut file: OnnxFile<'a>,
        input: Option<&Path>,
    ) -> Result<(OnnxFile<'a>, Option<Vec<f32>>)> {
        let Some(input) = input else {
            return Ok((file, None));
        };
        let text = files::read_text(input)?;
        let parsed = OnnxInputs::from_json(file.path, &text)
            .with_context(|| format!("reading {}", input.display()))?;
        let flag = file.shapes.first().cloned().flatten();
        file.shapes = parsed.shapes;
        if let (Some(first), Some(flag)) = (file.shapes.first_mut(), flag) {
            match first {
                Some(given) if *given != flag => bail!(
                    "--input-shape {flag:?} disagrees with the shape {given:?} of the input JSON"
                ),
                _ => *first = Some(flag),
            }
        }
        Ok((file, Some(parsed.values)))
    }

    /// The model's graph; an ONNX model is calibrated on `inputs` (default: seeded input), a
    /// decoder is built for the token ids of the first.
    pub fn graph(&self, inputs: Option<&[Tensor]>) -> Result<Graph> {
        let input = inputs.and_then(<[Tensor]>::first);
        if let Some((src, config)) = self.encoder()? {
            let seeded;
            let inputs = match inputs {
                Some(xs) => xs,
                None => {
                    let n = self.seq_len.map_or(Ok(8), usize::try_from)?;
                    seeded = encoder::seeded_input(&config, n, 1)?;
                    &seeded
                }
            };
            return Ok(encoder_graph(&src, &config, inputs)?);
        }
        if let Some(d) = self.decoder() {
            return Ok(decoder_graph(&d, input)
                .map_err(|e| decoder::explain(e, None))?
                .0);
        }
        if let Some(path) = self.onnx() {
            return Ok(onnx_graph(path, &self.quant(), inputs)?);
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
    pub fn commit(&self, graph: Graph) -> Result<(CommittedModel, CacheStatus)> {
        self.commit_with(graph, self.cache_dir().as_deref())
    }

    /// [`Self::commit`] without the cache: what a verifier rebuilding the model and `setup`
    /// use, since nothing authenticates the cache's files (a swapped codeword would pass for
    /// the weights; `zkml/tests/poisoned_cache.rs` builds such a file).
    pub fn commit_fresh(&self, graph: Graph) -> Result<CommittedModel> {
        Ok(self.commit_with(graph, None)?.0)
    }

    fn commit_with(
        &self,
        graph: Graph,
        cache: Option<&Path>,
    ) -> Result<(CommittedModel, CacheStatus)> {
        let config = self.config()?;
        model::graph::validate(&graph).context("invalid model")?;
        let circuit = Circuit::new(GraphShape::of(&graph)).context("model structure")?;
        check_security(&config, &circuit).context("refusing the configuration")?;
        CommittedModel::load_or_commit(graph, config, cache).context("committing to the model")
    }
}
