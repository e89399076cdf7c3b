//! Converts a llama-family GGUF checkpoint into a HuggingFace folder: `config.json`, one
//! F32 `model.safetensors` with the transformers tensor names (Q/K rows back in
//! transformers' order, every tensor dequantised) and a `tokenizer.json` built from the
//! GGUF's vocabulary and merges. The weights are those the GGUF holds, so
//! `--model-dir OUT` and `--gguf FILE` build the same model.
//!
//! `cargo run --release -p model-import --example gguf_to_hf -- FILE.gguf OUT_DIR`
use std::error::Error;
use std::io::Write;
use std::path::PathBuf;

use model_import::gguf::GgufCheckpoint;
use model_import::hf::synth::{decoder_tensors, write_safetensors};
use model_import::hf::weights::TensorSource;
use model_import::hf::Family;
use safetensors::Dtype;
use serde_json::json;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out] = args.as_slice() else {
        return Err("usage: gguf_to_hf FILE.gguf OUT_DIR".into());
    };
    let ckpt = GgufCheckpoint::open(&PathBuf::from(input))?;
    let c = &ckpt.config;
    if c.family != Family::Llama || c.rope_scaling.is_some() || c.attention_bias || c.qk_norm {
        return Err(format!("only plain llama checkpoints are converted, not {c:?}").into());
    }
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;
    let config = json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": c.hidden_size,
        "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads,
        "head_dim": c.head_dim,
        "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_hidden_layers,
        "rms_norm_eps": c.rms_norm_eps,
        "rope_theta": c.rope_theta,
        "vocab_size": c.vocab_size,
        "hidden_act": c.hidden_act,
        "tie_word_embeddings": c.tie_word_embeddings,
        "torch_dtype": "float32"
    });
    std::fs::write(
        out.join("config.json"),
        serde_json::to_string_pretty(&config)? + "\n",
    )?;
    let specs = decoder_tensors(c, Dtype::F32);
    write_safetensors(
        &out.join("model.safetensors"),
        &specs,
        |i, w: &mut dyn Write| {
            let values = ckpt
                .read_f32(&specs[i].name)
                .map_err(std::io::Error::other)?;
            for v in values {
                w.write_all(&v.to_le_bytes())?;
            }
            Ok(())
        },
    )?;
    // The vocabulary and merges as a tokenizer.json, when the file has them.
    match model_import::tokenizer::TextTokenizer::for_model(&PathBuf::from(input)) {
        Ok(t) => t.save(&out.join(model_import::tokenizer::TOKENIZER_FILE))?,
        Err(e) => eprintln!("no tokenizer.json written: {e}"),
    }
    println!("{} tensors of {input} -> {}", specs.len(), out.display());
    Ok(())
}
