//! Config variants from generated checkpoints: `rope_scaling` of type `llama3` (Llama 3.x) and
//! `linear`, and GELU MLPs (`hidden_act` `gelu`, `gelu_pytorch_tanh`). The integer decoder
//! tracks the `f32` one with the same variant, proves and verifies, and its logits differ from
//! the plain model's (the variant is really in the graph).
#![allow(clippy::unwrap_used)]

use model_import::hf::synth::{tiny_llama_config, write_synthetic};
use model_import::hf::{Checkpoint, DecoderModel, LoadOptions};
use safetensors::Dtype;
use zkml::{CommittedModel, ProofConfig};

const IDS: [usize; 8] = [5, 17, 3, 200, 17, 0, 255, 11];

/// The logits of the generated one-layer checkpoint with `key` set to `value` in its config,
/// proved when `prove`.
fn logits(key: &str, value: serde_json::Value, prove: bool) -> model::Tensor {
    let mut c = tiny_llama_config(false);
    c["num_hidden_layers"] = 1.into();
    c[key] = value;
    let dir = tempfile::tempdir().unwrap();
    write_synthetic(dir.path(), &c, Dtype::F32, 11, 1).unwrap();
    let ckpt = Checkpoint::open(dir.path()).unwrap();
    let w = ckpt.load_decoder(&LoadOptions::default()).unwrap();
    let mut m = DecoderModel::new(&w, IDS.len()).unwrap();
    let x = m.input(&IDS).unwrap();
    m.calibrate(&IDS).unwrap();
    let g = m.graph().unwrap();
    let trace = model::execute(&g, &x).unwrap();
    let y = trace.output(&g).clone();
    let track = m.dual_track(&IDS, &y, None).unwrap();
    eprintln!("{key} {}: {track}", c[key]);
    assert!(track.quantised.max_rel < 0.03, "{track}");
    if prove {
        let committed = CommittedModel::new(g, ProofConfig::default()).unwrap();
        let (proved, proof) = zkml::prove(&committed, &x, &()).unwrap();
        assert_eq!(proved, y);
        zkml::verify(&committed.vk, &x, &proved, &proof).unwrap();
    }
    y
}

#[test]
fn llama3_and_linear_rope_scaling_track_f32_and_prove() {
    // Original context 64 with head_dim 16 and theta 10^4: pair 0 is kept, pairs 1-2 are
    // interpolated, pairs 3-7 stretched by 8.
    let llama3 = serde_json::json!({"rope_type": "llama3", "factor": 8.0,
        "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64});
    let scaled = logits("rope_scaling", llama3, true);
    let linear = logits(
        "rope_scaling",
        serde_json::json!({"type": "linear", "factor": 4.0}),
        false,
    );
    let plain = logits("rope_scaling", serde_json::Value::Null, false);
    assert_ne!(scaled, plain);
    assert_ne!(linear, plain);
}

#[test]
fn gelu_mlps_track_f32_and_prove() {
    let tanh = logits("hidden_act", "gelu_pytorch_tanh".into(), true);
    let erf = logits("hidden_act", "gelu".into(), false);
    let silu = logits("hidden_act", "silu".into(), false);
    assert_ne!(tanh, silu);
    assert_ne!(erf, silu);
}
