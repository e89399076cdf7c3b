//! Qwen2 (q / k / v biases) and Qwen3 (per-head q_norm / k_norm before RoPE) decoders,
//! generated on the fly: they load, track `f32`, prove and verify; a proof does not verify
//! against the same model with one bias or q_norm gain changed.
#![allow(clippy::unwrap_used)]

use model_import::hf::synth::{tiny_llama_config, write_synthetic};
use model_import::hf::track::checkpoint_options;
use model_import::hf::{Checkpoint, DecoderModel, LoadOptions};
use model_import::QuantConfig;
use safetensors::Dtype;
use zkml::{CommittedModel, ProofConfig};

const IDS: [usize; 8] = [5, 17, 3, 200, 17, 0, 255, 11];

/// A tiny Qwen2 or Qwen3 checkpoint (the tiny Llama's shape) in a temporary folder.
fn checkpoint(model_type: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_llama_config(false);
    config["model_type"] = model_type.into();
    config["architectures"] = serde_json::json!([match model_type {
        "qwen2" => "Qwen2ForCausalLM",
        _ => "Qwen3ForCausalLM",
    }]);
    write_synthetic(dir.path(), &config, Dtype::F32, 7, 1).unwrap();
    dir
}

fn load(dir: &std::path::Path) -> (DecoderModel, model_import::hf::DecoderWeights) {
    let ckpt = Checkpoint::open(dir).unwrap();
    let w = ckpt
        .load_decoder(&LoadOptions {
            quant: QuantConfig::symmetric8(8),
            layers: None,
        })
        .unwrap();
    let fine = ckpt.load_decoder(&checkpoint_options(None)).unwrap();
    let mut m = DecoderModel::new(&w, IDS.len()).unwrap();
    m.calibrate(&IDS).unwrap();
    (m, fine)
}

#[test]
fn qwen2_and_qwen3_track_f32_prove_and_verify() {
    for family in ["qwen2", "qwen3"] {
        let dir = checkpoint(family);
        let (m, fine) = load(dir.path());
        let b = &m.blocks[0];
        match family {
            "qwen2" => assert!(b.q_bias.is_some() && b.v_bias.is_some() && b.q_norm.is_none()),
            _ => assert!(b.q_norm.is_some() && b.k_norm.is_some() && b.q_bias.is_none()),
        }
        let g = m.graph().unwrap();
        let x = m.input(&IDS).unwrap();
        let trace = model::execute(&g, &x).unwrap();
        let track = m.dual_track(&IDS, trace.output(&g), Some(&fine)).unwrap();
        eprintln!("{family}: {} nodes; {track}", g.nodes.len());
        // Measured: max rel 0.013 (qwen2) and 0.0095 (qwen3) against f32 on the same weights,
        // 0.035 / 0.029 against the checkpoint.
        // Dropping the biases or the per-head norms from the integer graph gives errors of
        // order 1.
        assert!(track.quantised.max_rel < 0.03, "{track}");
        assert!(track.checkpoint.unwrap().max_rel < 0.06, "{track}");

        let committed = CommittedModel::new(g, ProofConfig::default()).unwrap();
        let (y, proof) = zkml::prove(&committed, &x, &()).unwrap();
        zkml::verify(&committed.vk, &x, &y, &proof).unwrap();

        // The same proof against the model with one bias / q_norm entry moved by one step.
        let mut other = m;
        let edit = match family {
            "qwen2" => other.blocks[0].k_bias.as_mut().unwrap(),
            _ => other.blocks[0].q_norm.as_mut().unwrap(),
        };
        edit.data[3] += 1;
        let forged = CommittedModel::new(other.graph().unwrap(), ProofConfig::default()).unwrap();
        assert!(zkml::verify(&forged.vk, &x, &y, &proof).is_err());
    }
}

#[test]
fn per_head_norms_and_biases_change_the_output() {
    // The integer graph without Qwen3's norms (or Qwen2's biases) is far from the f32 model
    // with them: the features are really in the graph.
    for family in ["qwen2", "qwen3"] {
        let dir = checkpoint(family);
        let (m, _) = load(dir.path());
        let mut stripped = DecoderModel::new(
            &{
                let ckpt = Checkpoint::open(dir.path()).unwrap();
                ckpt.load_decoder(&LoadOptions {
                    quant: QuantConfig::symmetric8(8),
                    layers: None,
                })
                .unwrap()
            },
            IDS.len(),
        )
        .unwrap();
        for b in &mut stripped.blocks {
            (b.q_bias, b.k_bias, b.v_bias, b.q_norm, b.k_norm) = (None, None, None, None, None);
        }
        stripped.calibrate(&IDS).unwrap();
        let g = stripped.graph().unwrap();
        let x = stripped.input(&IDS).unwrap();
        let y = model::execute(&g, &x).unwrap().output(&g).clone();
        let track = m.dual_track(&IDS, &y, None).unwrap();
        eprintln!("{family} without its features: {track}");
        assert!(track.quantised.max_rel > 0.05, "{track}");
    }
}
