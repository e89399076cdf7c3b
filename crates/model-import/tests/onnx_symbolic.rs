//! Exported models whose shapes carry symbolic dimensions tract cannot read as expressions
//! (`DynamicDimension.0`, as some exporters write them) in the input, the output and the
//! intermediate `value_info`: they load, as the same model with those dimensions fixed to 1.
#![allow(clippy::unwrap_used)]

mod onnx_common;

use model_import::{import_onnx, ImportError, OnnxModel, QuantConfig};
use onnx_common::{data, sample_input};
use prost::Message;
use tract_onnx::pb::tensor_shape_proto::{dimension::Value as Dim, Dimension};
use tract_onnx::pb::type_proto::{Tensor as TensorType, Value as Type};
use tract_onnx::pb::{ModelProto, TensorShapeProto, TypeProto, ValueInfoProto};
use tract_onnx::prelude::Framework;

fn dim(name: &str) -> Dimension {
    Dimension {
        value: Some(Dim::DimParam(name.into())),
        denotation: String::new(),
    }
}

#[test]
fn unreadable_symbolic_dims_are_fixed_to_one() {
    let path = data("mnist_mlp.onnx");
    let mut proto: ModelProto = tract_onnx::onnx().proto_model_for_path(&path).unwrap();
    let graph = proto.graph.as_mut().unwrap();
    // The batch dimension of the input and the output as an exporter's symbol.
    for info in graph.input.iter_mut().chain(graph.output.iter_mut()) {
        if let Some(Type::TensorType(t)) = info.r#type.as_mut().and_then(|t| t.value.as_mut()) {
            if let Some(first) = t.shape.as_mut().and_then(|s| s.dim.first_mut()) {
                *first = dim("DynamicDimension.0");
            }
        }
    }
    // An intermediate shape hint with one.
    let hidden = graph.node[1].output[0].clone();
    graph.value_info.push(ValueInfoProto {
        name: hidden,
        r#type: Some(TypeProto {
            denotation: String::new(),
            value: Some(Type::TensorType(TensorType {
                elem_type: 1,
                shape: Some(TensorShapeProto {
                    dim: vec![dim("DynamicDimension.0"), dim("DynamicDimension.1")],
                }),
            })),
        }),
        doc_string: String::new(),
    });
    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("mnist_exported.onnx");
    std::fs::write(&exported, proto.encode_to_vec()).unwrap();
    // tract alone refuses it.
    assert!(tract_onnx::onnx().model_for_path(&exported).is_err());
    let input = sample_input("mnist_mlp");
    let config = QuantConfig::default();
    let got = import_onnx(&exported, &config, &input).unwrap();
    let want = import_onnx(&path, &config, &input).unwrap();
    assert_eq!(got.source.input_shape, want.source.input_shape);
    assert_eq!(got.graph.nodes, want.graph.nodes);
    assert_eq!(got.graph.weights, want.graph.weights);

    // A given input shape fills the symbolic batch dimension: two rows.
    let two = OnnxModel::load_shaped(&exported, Some(&[2, 1, 28, 28])).unwrap();
    assert_eq!(two.input_len(), 2 * 784);
    let twice: Vec<f32> = input.iter().chain(&input).copied().collect();
    let g = two.import(&config, &twice).unwrap().graph;
    assert_eq!(g.nodes[g.output].shape.rows, 2);
    // A shape that contradicts a declared dimension, or has another rank, is refused.
    for bad in [&[2, 1, 28, 27][..], &[2, 784][..]] {
        let err = OnnxModel::load_shaped(&exported, Some(bad)).unwrap_err();
        assert!(matches!(err, ImportError::Structure { .. }), "{err}");
        assert!(err.to_string().contains("[?, 1, 28, 28]"), "{err}");
    }
}

/// A second graph output added to an exported model (without type information, as
/// exporters leave intermediates) is imported and proved beside the first.
#[test]
fn an_added_untyped_output_is_proved_too() {
    let path = data("mnist_mlp.onnx");
    let mut proto: ModelProto = tract_onnx::onnx().proto_model_for_path(&path).unwrap();
    let graph = proto.graph.as_mut().unwrap();
    // The hidden activation as a second graph output.
    let hidden = graph.node[1].output[0].clone();
    let mut extra = graph.output[0].clone();
    extra.name = hidden.clone();
    extra.r#type = None;
    graph.output.push(extra);
    let dir = tempfile::tempdir().unwrap();
    let two = dir.path().join("two_outputs.onnx");
    std::fs::write(&two, proto.encode_to_vec()).unwrap();
    let imported = import_onnx(&two, &QuantConfig::default(), &sample_input("mnist_mlp")).unwrap();
    let names: Vec<&str> = imported
        .plan
        .outputs
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(names, ["logits", hidden.as_str()]);
    assert_eq!(imported.plan.outputs[1].dims, [1, 128]);
    assert_eq!(imported.graph.more_outputs.len(), 1);
}
