//! Models with several graph outputs: every output is proved (or, passed through from an
//! input, carried as that input), `--outputs` picks some in a given order, and each proved
//! output is bound by the proof.
#![allow(clippy::unwrap_used)]

mod onnx_common;

use model::execute::execute_all;
use model::{Op, Tensor};
use model_import::recipe::{onnx_graph, prepare_onnx, Comparison, OnnxFile};
use model_import::{ImportError, OnnxModel, QuantConfig};
use onnx_common::{data, sample_input};
use zkml::{prove_executed, verify_outputs, CommittedModel, ProofConfig, VerifyError};

fn file(outputs: &[&str]) -> (std::path::PathBuf, Vec<String>) {
    (
        data("multi_output.onnx"),
        outputs.iter().map(|s| s.to_string()).collect(),
    )
}

/// All four outputs (probabilities, logits, hidden features, the input through an Identity)
/// import, compare with tract, prove and verify; changing any proved output is rejected.
#[test]
fn every_output_is_proved_and_bound() {
    let path = data("multi_output.onnx");
    let input = sample_input("multi_output");
    let p = prepare_onnx(&path, &QuantConfig::default(), Some(&input), 0).unwrap();
    let names: Vec<&str> = p.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["probs", "logits", "features", "echo"]);
    let Some(Comparison::Onnx(report)) = &p.report else {
        panic!("no report")
    };
    assert_eq!(report.outputs.len(), 4);
    assert_eq!(report.outputs[2].dims, [2, 32]);
    for o in &report.outputs {
        assert!(o.max_rel_err < 0.05, "{report}");
    }
    assert!(report.lowering_err < 1e-5, "{report}");
    // The echo is the input itself: carried by the proof's input, not proved again.
    assert_eq!(p.graph.nodes[p.outputs[3].node].op, Op::Input);
    assert_eq!(p.graph.more_outputs.len(), 2);
    assert_eq!(p.outputs[0].node, p.graph.output);

    let m = CommittedModel::new(p.graph.clone(), ProofConfig::default()).unwrap();
    let (y, proof) = prove_executed(&m, &p.inputs, &p.trace, &()).unwrap();
    let outs: Vec<Tensor> = std::iter::once(y)
        .chain(p.trace.more_outputs(&p.graph))
        .collect();
    verify_outputs(&m.vk, &p.inputs, &outs, &proof).unwrap();
    for k in 0..outs.len() {
        let mut forged = outs.clone();
        forged[k].data[3] += 1;
        assert!(verify_outputs(&m.vk, &p.inputs, &forged, &proof).is_err());
    }
    let err = verify_outputs(&m.vk, &p.inputs, &outs[..1], &proof).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::OutputCount {
                expected: 3,
                got: 1
            }
        ),
        "{err}"
    );
    // The verifier rebuilds the same graph from the proof's input.
    assert_eq!(
        onnx_graph(&path, &QuantConfig::default(), Some(&p.inputs)).unwrap(),
        p.graph
    );
}

/// `--outputs` picks outputs by name in the given order; the graph behind the others is not
/// imported; another selection is another model.
#[test]
fn outputs_are_picked_by_name() {
    let input = sample_input("multi_output");
    let (path, outputs) = file(&["features", "logits"]);
    let picked = OnnxFile {
        path: &path,
        shapes: vec![],
        outputs,
    };
    let p = prepare_onnx(picked.clone(), &QuantConfig::default(), Some(&input), 0).unwrap();
    let names: Vec<&str> = p.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["features", "logits"]);
    assert!(!p
        .graph
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::SoftmaxExp { .. })));
    assert_eq!(p.graph.more_outputs, [p.outputs[1].node]);
    let trace = execute_all(&p.graph, &p.inputs).unwrap();
    assert_eq!(trace.output(&p.graph).shape.cols, 32);

    let all = prepare_onnx(&path, &QuantConfig::default(), Some(&input), 0).unwrap();
    assert_ne!(all.graph, p.graph);
    assert_eq!(
        onnx_graph(picked, &QuantConfig::default(), Some(&p.inputs)).unwrap(),
        p.graph
    );
}

#[test]
fn unknown_repeated_or_only_passed_through_outputs_are_refused() {
    let input = sample_input("multi_output");
    let refused = |names: &[&str]| {
        let (path, outputs) = file(names);
        let f = OnnxFile {
            path: &path,
            shapes: vec![],
            outputs,
        };
        prepare_onnx(f, &QuantConfig::default(), Some(&input), 0)
            .unwrap_err()
            .to_string()
    };
    let e = refused(&["logit"]);
    assert!(
        e.contains("no output named 'logit'") && e.contains("probs, logits, features, echo"),
        "{e}"
    );
    assert!(refused(&["logits", "logits"]).contains("named twice"));
    let e = refused(&["echo"]);
    assert!(e.contains("nothing to prove"), "{e}");
    let err = OnnxModel::load(&data("multi_output.onnx"))
        .unwrap()
        .select_outputs(&["nope".into()])
        .unwrap_err();
    assert!(matches!(err, ImportError::Structure { .. }), "{err}");
}
