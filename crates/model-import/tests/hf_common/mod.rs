//! Shared by the SafeTensors tests: fixture paths and rewriting a checkpoint with edits.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use model_import::hf::synth::{tiny_llama_config, write_safetensors, write_synthetic, TensorSpec};
use model_import::hf::Checkpoint;
use safetensors::Dtype;

/// Seed of the committed fixtures.
pub const SEED: u64 = 2024;

pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The F32 tiny Llama (untied head).
pub fn tiny() -> PathBuf {
    data("tiny-llama")
}

/// The BF16 tiny Llama (tied head).
pub fn tiny_bf16() -> PathBuf {
    data("tiny-llama-bf16")
}

/// Writes both fixtures into `root/tiny-llama` and `root/tiny-llama-bf16`.
pub fn write_fixtures(root: &Path) {
    let f32_dir = root.join("tiny-llama");
    let bf16_dir = root.join("tiny-llama-bf16");
    std::fs::create_dir_all(&f32_dir).unwrap();
    std::fs::create_dir_all(&bf16_dir).unwrap();
    write_synthetic(&f32_dir, &tiny_llama_config(false), Dtype::F32, SEED, 1).unwrap();
    let mut bf16 = tiny_llama_config(true);
    bf16["torch_dtype"] = "bfloat16".into();
    write_synthetic(&bf16_dir, &bf16, Dtype::BF16, SEED, 1).unwrap();
}

/// A tensor as an edit writes it: dtype, shape and raw little-endian bytes.
pub struct Raw {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

impl Raw {
    pub fn f32(shape: Vec<usize>, values: &[f32]) -> Self {
        Self {
            dtype: Dtype::F32,
            shape,
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

/// Copies the checkpoint `src` into `dst` as one `model.safetensors` (plus its config),
/// passing every tensor through `edit`, which returns the tensors to write in its place
/// (none: drop it).
pub fn rewrite(src: &Path, dst: &Path, mut edit: impl FnMut(&str, Raw) -> Vec<(String, Raw)>) {
    std::fs::create_dir_all(dst).unwrap();
    std::fs::copy(src.join("config.json"), dst.join("config.json")).unwrap();
    let ckpt = Checkpoint::open(src).unwrap();
    let mut tensors = Vec::new();
    for name in ckpt.names() {
        let shape = ckpt.meta(name).unwrap().shape;
        let raw = Raw::f32(shape, &ckpt.read_f32(name).unwrap());
        tensors.extend(edit(name, raw));
    }
    let specs: Vec<TensorSpec> = tensors
        .iter()
        .map(|(name, r)| TensorSpec {
            name: name.clone(),
            dtype: r.dtype,
            shape: r.shape.clone(),
        })
        .collect();
    write_safetensors(&dst.join("model.safetensors"), &specs, |i, out| {
        out.write_all(&tensors[i].1.bytes)
    })
    .unwrap();
}

/// `rewrite` of the F32 fixture into a fresh temporary folder.
pub fn edited(edit: impl FnMut(&str, Raw) -> Vec<(String, Raw)>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rewrite(&tiny(), dir.path(), edit);
    dir
}

/// Keeps a tensor as it is.
pub fn keep(name: &str, raw: Raw) -> Vec<(String, Raw)> {
    vec![(name.to_string(), raw)]
}
