//! Opt-in: a real GGUF checkpoint (SmolLM2-135M-Instruct, Q4_1), fetched by
//! `scripts/fetch-real-models.sh` into `target/real-models/` (or named by `SMOLLM2_GGUF`).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use model_import::gguf::GgufCheckpoint;
use model_import::hf::track::checkpoint_options;
use model_import::hf::{DecoderModel, LoadOptions};
use model_import::QuantConfig;

fn gguf_path() -> PathBuf {
    std::env::var_os("SMOLLM2_GGUF").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/real-models/SmolLM2-135M-Instruct.Q4_1.gguf")
        },
        PathBuf::from,
    )
}

#[test]
#[ignore = "needs the real checkpoint: scripts/fetch-real-models.sh"]
fn real_smollm2_gguf_loads_and_one_layer_tracks_f32() {
    let path = gguf_path();
    if !path.exists() {
        eprintln!(
            "skipped: {} is absent (scripts/fetch-real-models.sh)",
            path.display()
        );
        return;
    }
    let ckpt = GgufCheckpoint::open(&path).unwrap();
    let c = &ckpt.config;
    eprintln!("config: {c:?}");
    let mut types = std::collections::BTreeMap::new();
    for t in &ckpt.file.tensors {
        *types.entry(format!("{:?}", t.ty)).or_insert(0) += 1;
    }
    eprintln!("tensor types: {types:?}");
    assert_eq!(
        (c.hidden_size, c.num_hidden_layers, c.vocab_size),
        (576, 30, 49152)
    );
    let ids = [1usize, 9690, 198, 504, 3458, 314, 4114, 30];
    let w = ckpt
        .load_decoder(&LoadOptions {
            quant: QuantConfig::symmetric8(8),
            layers: Some(1),
        })
        .unwrap();
    let fine = ckpt.load_decoder(&checkpoint_options(Some(1))).unwrap();
    let mut m = DecoderModel::new(&w, ids.len()).unwrap();
    let x = m.input(&ids).unwrap();
    m.calibrate(&ids).unwrap();
    let (g, block_nodes) = m.graph_with_blocks().unwrap();
    let trace = model::execute(&g, &x).unwrap();
    let y = trace.output(&g);
    let mut track = m.dual_track(&ids, y, Some(&fine)).unwrap();
    track.blocks = m.block_errors(&ids, &trace, &block_nodes).unwrap();
    eprintln!("{track}");
    assert!(track.top1_agree <= ids.len());
}
