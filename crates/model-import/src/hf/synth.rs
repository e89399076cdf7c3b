//! Synthetic checkpoints for tests and benchmarks: a streaming `.safetensors` writer and a
//! Llama-style decoder with seeded random weights, written tensor by tensor so that a model of
//! any size is generated in constant memory.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use safetensors::Dtype;
use serde_json::{json, Map, Value};

use super::{DecoderConfig, HfError, INDEX_FILE};

/// A tensor to write: its name, dtype and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
}

impl TensorSpec {
    /// Bytes of the tensor's data (dtypes of whole bytes).
    pub fn byte_len(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.bitsize() / 8
    }
}

/// Writes `path`: the header for `specs` (in this order), then the data of tensor `i` as
/// `fill(i, out)` writes it; each must write exactly [`TensorSpec::byte_len`] bytes.
pub fn write_safetensors(
    path: &Path,
    specs: &[TensorSpec],
    mut fill: impl FnMut(usize, &mut dyn Write) -> std::io::Result<()>,
) -> Result<(), HfError> {
    let io = |source| HfError::Io {
        path: path.into(),
        source,
    };
    let mut header = Map::new();
    let mut offset = 0usize;
    for s in specs {
        let end = offset + s.byte_len();
        header.insert(
            s.name.clone(),
            json!({"dtype": s.dtype, "shape": s.shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut header = Value::Object(header).to_string().into_bytes();
    // Pad with spaces to a multiple of 8, as the safetensors crate does, so data is aligned.
    header.resize(header.len().div_ceil(8) * 8, b' ');
    let mut out = BufWriter::new(File::create(path).map_err(io)?);
    out.write_all(&(header.len() as u64).to_le_bytes())
        .map_err(io)?;
    out.write_all(&header).map_err(io)?;
    for (i, s) in specs.iter().enumerate() {
        let mut counted = Counted {
            inner: &mut out,
            n: 0,
        };
        fill(i, &mut counted).map_err(io)?;
        if counted.n != s.byte_len() {
            return Err(io(std::io::Error::other(format!(
                "tensor '{}': wrote {} bytes, its header says {}",
                s.name,
                counted.n,
                s.byte_len()
            ))));
        }
    }
    out.flush().map_err(io)
}

struct Counted<'a, W: Write> {
    inner: &'a mut W,
    n: usize,
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The tensors transformers would save for `c` (HuggingFace names and `[out, in]` shapes).
pub fn decoder_tensors(c: &DecoderConfig, dtype: Dtype) -> Vec<TensorSpec> {
    let (h, qd, kvd, f) = (c.hidden_size, c.q_dim(), c.kv_dim(), c.intermediate_size);
    let mut specs = vec![(
        "model.embed_tokens.weight".to_string(),
        vec![c.vocab_size, h],
    )];
    for i in 0..c.num_hidden_layers {
        let p = format!("model.layers.{i}.");
        let mut layer = vec![
            ("self_attn.q_proj.weight", vec![qd, h]),
            ("self_attn.k_proj.weight", vec![kvd, h]),
            ("self_attn.v_proj.weight", vec![kvd, h]),
            ("self_attn.o_proj.weight", vec![h, qd]),
            ("mlp.gate_proj.weight", vec![f, h]),
            ("mlp.up_proj.weight", vec![f, h]),
            ("mlp.down_proj.weight", vec![h, f]),
            ("input_layernorm.weight", vec![h]),
            ("post_attention_layernorm.weight", vec![h]),
        ];
        if c.attention_bias {
            layer.push(("self_attn.q_proj.bias", vec![qd]));
            layer.push(("self_attn.k_proj.bias", vec![kvd]));
            layer.push(("self_attn.v_proj.bias", vec![kvd]));
        }
        if c.qk_norm {
            layer.push(("self_attn.q_norm.weight", vec![c.head_dim]));
            layer.push(("self_attn.k_norm.weight", vec![c.head_dim]));
        }
        specs.extend(layer.into_iter().map(|(n, s)| (format!("{p}{n}"), s)));
    }
    specs.push(("model.norm.weight".into(), vec![h]));
    if !c.tie_word_embeddings {
        specs.push(("lm_head.weight".into(), vec![c.vocab_size, h]));
    }
    specs
        .into_iter()
        .map(|(name, shape)| TensorSpec { name, dtype, shape })
        .collect()
}

/// The values of tensor `index` of `spec`: norm gains near 1, biases small, matrices uniform
/// in `+-1/sqrt(in)` (as a trained model's scale), all from `seed`.
pub fn synthetic_values(spec: &TensorSpec, index: usize, seed: u64) -> impl Iterator<Item = f32> {
    let stream_seed = seed ^ (index as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let (offset, amp) = match spec.shape.as_slice() {
        [_, fan_in] => (0.0, 1.0 / (*fan_in as f32).sqrt()),
        _ if spec.name.ends_with("bias") => (0.0, 0.1),
        _ => (1.0, 0.25),
    };
    let n = spec.shape.iter().product();
    crate::seeded_uniform(stream_seed)
        .take(n)
        .map(move |u| offset + (2.0 * u - 1.0) * amp)
}

/// Writes `dir/config.json` (`config`, pretty-printed) and the decoder's tensors with seeded
/// values in `dtype` (`F32`, `F16` or `BF16`): one `model.safetensors`, or `n_shards` files
/// `model-0000i-of-0000n.safetensors` and an index when `n_shards > 1`.
pub fn write_synthetic(
    dir: &Path,
    config: &Value,
    dtype: Dtype,
    seed: u64,
    n_shards: usize,
) -> Result<(), HfError> {
    let config_path = dir.join("config.json");
    let text = serde_json::to_string_pretty(config).map_err(|e| HfError::Json {
        file: config_path.clone(),
        detail: e.to_string(),
    })?;
    let c = DecoderConfig::parse(&text, &config_path)?;
    std::fs::write(&config_path, text + "\n").map_err(|source| HfError::Io {
        path: config_path,
        source,
    })?;
    let specs = decoder_tensors(&c, dtype);
    let n_shards = n_shards.clamp(1, specs.len());
    let per = specs.len().div_ceil(n_shards);
    let mut weight_map = Map::new();
    for (k, chunk) in specs.chunks(per).enumerate() {
        let file = if n_shards == 1 {
            "model.safetensors".to_string()
        } else {
            format!("model-{:05}-of-{:05}.safetensors", k + 1, n_shards)
        };
        let first = k * per;
        write_safetensors(&dir.join(&file), chunk, |i, out| {
            let spec = &chunk[i];
            for v in synthetic_values(spec, first + i, seed) {
                match dtype {
                    Dtype::F16 => out.write_all(&half::f16::from_f32(v).to_le_bytes())?,
                    Dtype::BF16 => out.write_all(&half::bf16::from_f32(v).to_le_bytes())?,
                    Dtype::F32 => out.write_all(&v.to_le_bytes())?,
                    other => {
                        return Err(std::io::Error::other(format!(
                            "synthetic values are F32, F16 or BF16, not {other:?}"
                        )))
                    }
                }
            }
            Ok(())
        })?;
        for s in chunk {
            weight_map.insert(s.name.clone(), Value::String(file.clone()));
        }
    }
    if n_shards > 1 {
        let path = dir.join(INDEX_FILE);
        let index = json!({"metadata": {}, "weight_map": weight_map});
        std::fs::write(&path, index.to_string()).map_err(|source| HfError::Io { path, source })?;
    }
    Ok(())
}

/// The tiny Llama of the test fixtures: hidden 64, 4 heads of 16, 2 KV heads, FFN 128,
/// 2 layers, vocabulary 256.
pub fn tiny_llama_config(tie_word_embeddings: bool) -> Value {
    json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 64,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "vocab_size": 256,
        "max_position_embeddings": 256,
        "hidden_act": "silu",
        "tie_word_embeddings": tie_word_embeddings,
        "torch_dtype": "float32"
    })
}
