//! A SafeTensors decoder as a graph: built from the tiny Llama fixtures, run, compared with its
//! `f32` references, and proved.
#![allow(clippy::unwrap_used)]

mod hf_common;

use hf_common::{tiny, tiny_bf16};
use model_import::hf::track::checkpoint_options;
use model_import::hf::{Checkpoint, DecoderModel, LoadOptions};
use model_import::QuantConfig;

const IDS: [usize; 8] = [5, 17, 3, 200, 17, 0, 255, 11];

#[test]
fn graph_has_the_decoder_shape() {
    let w = model_import::load_decoder(&tiny(), &LoadOptions::default()).unwrap();
    let m = DecoderModel::new(&w, 8).unwrap();
    let g = m.graph().unwrap();
    assert_eq!(g.name, "llama, 2 of 2 layers");
    assert_eq!(g.input_shape(), model::Shape::new(8, 1));
    assert_eq!(g.output_shape(), model::Shape::new(8, 256));
    // Every checkpoint matrix is a graph weight of the same shape (plus tables).
    let n = |rows, cols| {
        g.weights
            .iter()
            .filter(|w| w.shape == model::Shape::new(rows, cols))
            .count()
    };
    assert_eq!((n(256, 64), n(64, 256)), (1, 1)); // embedding, LM head
    assert_eq!((n(64, 64), n(64, 32)), (4, 4)); // q and o, k and v per layer
    assert_eq!((n(64, 128), n(128, 64)), (4, 2)); // gate and up, down per layer
                                                  // One layer is a smaller model.
    let one = model_import::load_decoder(
        &tiny(),
        &LoadOptions {
            layers: Some(1),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    let g1 = DecoderModel::new(&one, 8).unwrap().graph().unwrap();
    assert_eq!(g1.name, "llama, 1 of 2 layers");
    assert!(g1.nodes.len() < g.nodes.len());
}

#[test]
fn tiny_llama_tracks_f32() {
    for dir in [tiny(), tiny_bf16()] {
        let ckpt = Checkpoint::open(&dir).unwrap();
        for quant in [QuantConfig::symmetric8(8), QuantConfig::direct(8, 10)] {
            let w = ckpt
                .load_decoder(&LoadOptions {
                    quant,
                    layers: None,
                })
                .unwrap();
            let fine = ckpt.load_decoder(&checkpoint_options(None)).unwrap();
            let mut m = DecoderModel::new(&w, IDS.len()).unwrap();
            let x = m.input(&IDS).unwrap();
            m.calibrate(&IDS).unwrap();
            let (g, block_nodes) = m.graph_with_blocks().unwrap();
            let trace = model::execute(&g, &x).unwrap();
            let y = trace.output(&g);
            let mut track = m.dual_track(&IDS, y, Some(&fine)).unwrap();
            track.blocks = m.block_errors(&IDS, &trace, &block_nodes).unwrap();
            assert_eq!(track.blocks.len(), 2);
            for e in &track.blocks {
                assert!(e.max_rel < 0.02, "{track}");
            }
            eprintln!("{} {:?}: {track}", dir.display(), quant.strategy);
            // Measured with norms calibrated on the input: max rel 0.011 - 0.015 (rms 0.007)
            // against f32 on the same weights, 0.023 - 0.033 against the checkpoint's weights,
            // on logits up to ~2.5 (before calibration, with RMSNorm's mean square at a fixed
            // 2^-8: 0.20 - 0.25). A wrong scale, transposition or RoPE layout gives errors of
            // order 1.
            assert!(
                track.quantised.max_rel < 0.03 && track.quantised.rms < 0.02,
                "{track}"
            );
            let fine_err = track.checkpoint.unwrap();
            assert!(fine_err.max_rel < 0.06 && fine_err.rms < 0.03, "{track}");
            assert!(track.top1_agree >= IDS.len() - 1, "{track}");
        }
    }
}
