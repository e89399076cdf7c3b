//! Data movement end to end: Slice (aligned, strided, reversed, on a middle axis), Concat
//! (activations, constants), their refusals, and Gather on a constant table. Each supported
//! model is imported, compared with tract, proved and verified, and a changed output rejected.
#![allow(clippy::unwrap_used)]

mod onnx_common;

use model_import::plan::PlanOp;
use model_import::{import_onnx, ImportError, Imported, QuantConfig};
use onnx_common::{data, prove_and_verify, sample_input};

fn count(imported: &Imported, want: fn(&PlanOp) -> bool) -> usize {
    imported.plan.steps.iter().filter(|s| want(&s.op)).count()
}

fn kinds(imported: &Imported) -> Vec<&'static str> {
    imported.graph.nodes.iter().map(|n| n.op.kind()).collect()
}

/// Imports `name` with both strategies, checks the error against tract, proves and verifies.
fn import_and_prove(name: &str, max_abs: f64) -> Vec<Imported> {
    let input = sample_input(name);
    [QuantConfig::symmetric8(8), QuantConfig::direct(8, 10)]
        .into_iter()
        .map(|config| {
            let file = data(&format!("{name}.onnx"));
            let imported = import_onnx(&file, &config, &input).unwrap();
            let report = imported.compare(&input).unwrap();
            println!("{name} {:?}: {report}", config.strategy);
            assert!(report.lowering_err < 1e-5, "{report}");
            assert!(report.max_abs_err < max_abs, "{report}");
            prove_and_verify(&imported, &input);
            imported
        })
        .collect()
}

fn refused(name: &str) -> String {
    let err = import_onnx(
        &data(&format!("{name}.onnx")),
        &QuantConfig::default(),
        &sample_input(name),
    )
    .unwrap_err();
    let msg = err.to_string();
    println!("{msg}");
    assert!(matches!(err, ImportError::Unsupported { .. }), "{msg}");
    assert!(msg.contains(&format!("{name}.onnx")), "{msg}");
    msg
}

#[test]
fn aligned_feature_slices_and_concat_are_column_ops() {
    for imported in import_and_prove("feature_select", 0.01) {
        // lo, hi (of the softmax) and skip (of the input); the two 8-wide parts side by side.
        assert_eq!(
            count(&imported, |op| matches!(op, PlanOp::ColumnSlice { .. })),
            3
        );
        assert_eq!(
            count(&imported, |op| matches!(op, PlanOp::ConcatColumns { .. })),
            1
        );
        assert_eq!(
            count(&imported, |op| matches!(op, PlanOp::IntMatMul { .. })),
            0
        );
        let kinds = kinds(&imported);
        for k in ["column_slice", "concat_columns", "softmax_div"] {
            assert!(kinds.contains(&k), "{kinds:?}");
        }
    }
}

#[test]
fn strided_reversed_and_middle_axis_slices_are_selections() {
    for imported in import_and_prove("slice_step", 0.03) {
        // Step 2, step -3, a middle-axis slice, and the three parts' placements.
        let selections = count(&imported, |op| matches!(op, PlanOp::IntMatMul { .. }));
        assert_eq!(selections, 6, "{:?}", imported.plan.steps);
    }
}

#[test]
fn concat_with_a_constant_joins_as_a_bias() {
    // Kept as a Concat (its output also feeds a Relu): selection plus bias.
    for imported in import_and_prove("concat_const", 0.05) {
        let name_of = |s: &model_import::plan::Step| s.name.clone();
        let biased = imported
            .plan
            .steps
            .iter()
            .filter(|s| matches!(s.op, PlanOp::Bias { .. }))
            .map(name_of)
            .collect::<Vec<_>>();
        assert_eq!(biased, vec!["with_const".to_string()]);
    }
    // Folded by tract into the MatMul: a constant of the output's shape whose rows agree.
    for imported in import_and_prove("concat_const_mm", 0.05) {
        assert_eq!(count(&imported, |op| matches!(op, PlanOp::Bias { .. })), 1);
    }
}

#[test]
fn concat_with_a_constant_differing_between_rows_is_refused() {
    let msg = refused("concat_const_rows");
    assert!(
        msg.contains("node 'with_const': operator Concat") && msg.contains("differs between rows"),
        "{msg}"
    );
}

#[test]
fn slice_along_the_batch_axis_is_refused() {
    let msg = refused("slice_rows");
    assert!(
        msg.contains("node 'first_row': operator Slice") && msg.contains("axis 0"),
        "{msg}"
    );
}

/// Gather from a constant table by the integer ids of an input: the proved embedding, the ids
/// an exact integer column; an id outside the table is refused by the integer run.
#[test]
fn gather_on_a_constant_table_is_an_embedding() {
    let imported = import_and_prove("gather_table", 0.05).remove(0);
    let g = &imported.graph;
    assert_eq!(g.input_shape(), model::Shape::new(4, 1));
    assert!(g.nodes.iter().any(|n| n.op.kind() == "embedding"));
    let err = imported.compare(&[3.0, 1.0, 16.0, 1.0]).unwrap_err();
    assert!(matches!(err, ImportError::Exec { .. }), "{err}");
    let err = imported.compare(&[3.0, 1.5, 4.0, 1.0]).unwrap_err();
    assert!(err.to_string().contains("holds integers"), "{err}");
}
