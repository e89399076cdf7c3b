//! Decoding steps of a whole decoder (`DecoderModel::step_graph`): a prefill and one step per
//! new token against the proved K/V cache give the logits of the full-sequence graph (to the
//! softmax's precision),
//! every step proves and verifies, and a cache the prover did not compute is rejected.
#![allow(clippy::unwrap_used)]

mod hf_common;

use hf_common::tiny;
use model::decode::KvCache;
use model_import::hf::{DecoderModel, LoadOptions};
use zkml::{prove_all, verify_all, CommittedModel, ProofConfig};

const IDS: [usize; 10] = [5, 17, 3, 200, 17, 0, 255, 11, 42, 7];

/// Rows `rows` of a logits tensor.
fn logit_rows(t: &model::Tensor, rows: std::ops::Range<usize>) -> &[i64] {
    let c = t.shape.cols;
    &t.data[rows.start * c..rows.end * c]
}

#[test]
fn prefill_and_token_steps_match_the_full_graph_and_prove() {
    let w = model_import::load_decoder(&tiny(), &LoadOptions::default()).unwrap();
    // One calibration (on the whole sequence) fixes every scale for all steps.
    let mut m = DecoderModel::new(&w, IDS.len()).unwrap();
    m.calibrate(&IDS).unwrap();
    let full = m.graph().unwrap();
    let full_logits = model::execute(&full, &m.input(&IDS).unwrap())
        .unwrap()
        .output(&full)
        .clone();

    let mut cache = KvCache { layers: vec![] };
    let mut pos = 0;
    for rows in [8, 1, 1] {
        let step = m.step_graph(pos, rows).unwrap();
        assert_eq!(
            step.graph.name,
            format!("llama, 2 of 2 layers, step {pos}+{rows}")
        );
        let inputs = m.step_inputs(&step, &cache, &IDS[pos..pos + rows]).unwrap();
        if pos > 0 {
            assert!(cache.check_next(&inputs));
        }
        let committed = CommittedModel::new(step.graph.clone(), ProofConfig::default()).unwrap();
        let (logits, proof) = prove_all(&committed, &inputs, &()).unwrap();
        // Not bit-identical: the softmax's exp table keeps fewer bits for longer rows (the
        // row sum must stay below 2^14), and the rows are `pos + rows` long here, padded to a
        // power of two in the full graph.
        let worst = logit_rows(&logits, 0..rows)
            .iter()
            .zip(logit_rows(&full_logits, pos..pos + rows))
            .map(|(a, b)| (a - b).abs())
            .max()
            .unwrap();
        assert!(
            worst <= 8,
            "step {pos}+{rows}: logits differ by {worst} / 2^8"
        );
        verify_all(&committed.vk, &inputs, &logits, &proof).unwrap();
        if pos > 0 {
            // A cache row the earlier steps did not prove: the step's proof fails, and the
            // chain check sees the changed prefix.
            let mut forged = inputs.clone();
            forged[1].data[0] += 1;
            assert!(verify_all(&committed.vk, &forged, &logits, &proof).is_err());
            assert!(!cache.check_next(&forged));
            // The step's own K row, changed after proving, fails too.
            let mut own = inputs.clone();
            let cols = own[2].shape.cols;
            own[2].data[pos * cols] += 1;
            assert!(verify_all(&committed.vk, &own, &logits, &proof).is_err());
        }
        cache = KvCache::after(&inputs);
        pos += rows;
    }
}

#[test]
fn step_errors_are_clear() {
    let w = model_import::load_decoder(&tiny(), &LoadOptions::default()).unwrap();
    let m = DecoderModel::new(&w, 4).unwrap();
    assert!(m.step_graph(0, 0).is_err());
    let step = m.step_graph(0, 2).unwrap();
    let empty = KvCache { layers: vec![] };
    let e = m.step_inputs(&step, &empty, &[1, 2, 3]).unwrap_err();
    assert!(e.to_string().contains("3 token ids"), "{e}");
    let e = m.step_inputs(&step, &empty, &[1, 999]).unwrap_err();
    assert!(e.to_string().contains("not below vocab_size"), "{e}");
}
