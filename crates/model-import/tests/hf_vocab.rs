//! A generated BF16 checkpoint with tied embeddings and a vocabulary of 2^17 (above the
//! activation range, as every current open model's): loaded, run against `f32`, proved and
//! verified from token ids above 2^15; a vocabulary above 2^18 is refused naming the field.
#![allow(clippy::unwrap_used)]

use model_import::hf::synth::{tiny_llama_config, write_synthetic};
use model_import::hf::track::checkpoint_options;
use model_import::hf::{Checkpoint, DecoderError, DecoderModel, LoadOptions};
use safetensors::Dtype;
use zkml::{CommittedModel, ProofConfig};

const VOCAB: usize = 1 << 17;
const IDS: [usize; 4] = [40_000, 131_071, 7, 99_999];

fn config(vocab: usize) -> serde_json::Value {
    let mut c = tiny_llama_config(true);
    c["torch_dtype"] = "bfloat16".into();
    c["vocab_size"] = vocab.into();
    c["hidden_size"] = 32.into();
    c["num_attention_heads"] = 2.into();
    c["num_key_value_heads"] = 1.into();
    c["intermediate_size"] = 64.into();
    c["num_hidden_layers"] = 1.into();
    c
}

#[test]
fn vocabulary_of_2pow17_with_tied_bf16_embeddings_proves() {
    let dir = tempfile::tempdir().unwrap();
    write_synthetic(dir.path(), &config(VOCAB), Dtype::BF16, 7, 1).unwrap();
    let ckpt = Checkpoint::open(dir.path()).unwrap();
    let w = ckpt.load_decoder(&LoadOptions::default()).unwrap();
    assert!(w.lm_head_tied);
    let fine = ckpt.load_decoder(&checkpoint_options(None)).unwrap();
    let mut m = DecoderModel::new(&w, IDS.len()).unwrap();
    let x = m.input(&IDS).unwrap();
    m.calibrate(&IDS).unwrap();
    let g = m.graph().unwrap();
    assert_eq!(g.output_shape(), model::Shape::new(IDS.len(), VOCAB));
    let trace = model::execute(&g, &x).unwrap();
    let track = m.dual_track(&IDS, trace.output(&g), Some(&fine)).unwrap();
    eprintln!("vocab 2^17: {track}");
    assert!(track.quantised.max_rel < 0.05, "{track}");

    let committed = CommittedModel::new(g, ProofConfig::default()).unwrap();
    let (y, proof) = zkml::prove(&committed, &x, &()).unwrap();
    assert_eq!(&y, trace.output(&committed.graph));
    zkml::verify(&committed.vk, &x, &y, &proof).unwrap();
    let mut other = x.clone();
    other.data[1] -= 1;
    assert!(zkml::verify(&committed.vk, &other, &y, &proof).is_err());
}

#[test]
fn vocabulary_above_2pow18_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    // Only the config matters: the refusal comes before any tensor is read.
    let text = config((1 << 18) + 1).to_string();
    std::fs::write(dir.path().join("config.json"), text).unwrap();
    let c = model_import::hf::DecoderConfig::load(&dir.path().join("config.json")).unwrap();
    assert_eq!(c.vocab_size, (1 << 18) + 1);
    let w = model_import::hf::DecoderWeights {
        config: c,
        ..small_weights()
    };
    match DecoderModel::new(&w, 4) {
        Err(DecoderError::Unsupported { field, .. }) => assert_eq!(field, "vocab_size"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// Weights of a small generated checkpoint (the tensors do not matter to the refusal).
fn small_weights() -> model_import::hf::DecoderWeights {
    let dir = tempfile::tempdir().unwrap();
    write_synthetic(dir.path(), &config(64), Dtype::BF16, 7, 1).unwrap();
    Checkpoint::open(dir.path())
        .unwrap()
        .load_decoder(&LoadOptions::default())
        .unwrap()
}
