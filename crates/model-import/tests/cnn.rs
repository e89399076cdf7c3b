//! End-to-end for the convolutional and normalisation operators: Conv, MaxPool, AveragePool,
//! GlobalAveragePool, data-moving Transpose and LayerNorm import, agree with tract's f32 run,
//! prove and verify; unsupported convolutions are refused by name.
#![allow(clippy::unwrap_used)]

mod onnx_common;

use model_import::{import_onnx, ImportError, QuantConfig};
use onnx_common::{data, prove_and_verify, sample_input};

fn kinds(imported: &model_import::Imported, kind: &str) -> usize {
    imported
        .graph
        .nodes
        .iter()
        .filter(|n| n.op.kind() == kind)
        .count()
}

#[test]
fn small_cnn_import_and_prove_works() {
    let input = sample_input("small_cnn");
    for config in [QuantConfig::symmetric8(8), QuantConfig::direct(8, 10)] {
        let imported = import_onnx(&data("small_cnn.onnx"), &config, &input).unwrap();
        // Channels-last: one row per pixel, one column per channel.
        assert_eq!(imported.graph.input_shape(), model::Shape::new(144, 1));
        assert_eq!(imported.graph.output_shape(), model::Shape::new(1, 10));
        let report = imported.compare(&input).unwrap();
        println!("small_cnn {:?}: {report}", config.strategy);
        assert!(report.lowering_err < 1e-4, "{report}");
        assert!(report.max_abs_err < 0.05, "{report}");
        assert_eq!(report.top1_agrees, Some(true), "{report}");
        // conv1, conv2 and fc, each by its kernel; im2col twice, 4 max-pool taps, the
        // global pool: window gathers, no committed selection matrix.
        assert_eq!(kinds(&imported, "matmul"), 3);
        assert_eq!(kinds(&imported, "window_gather"), 7);
        // relu1, relu2 and the three max(a, b) = b + relu(a - b) of the 2x2 pool.
        assert_eq!(kinds(&imported, "relu"), 5);
    }
    let imported = import_onnx(&data("small_cnn.onnx"), &QuantConfig::default(), &input).unwrap();
    let (prove, verify) = prove_and_verify(&imported, &input);
    println!(
        "small_cnn: {} params, {} MACs, prove {prove:.2?}, verify {verify:.2?}",
        imported.graph.n_params(),
        imported.graph.n_macs()
    );
}

#[test]
fn small_cnn_agrees_on_other_inputs() {
    // Calibrated on the sample input, run on seeded pixel-like inputs.
    let calib = sample_input("small_cnn");
    let imported = import_onnx(&data("small_cnn.onnx"), &QuantConfig::default(), &calib).unwrap();
    for seed in 0..8 {
        let input = model_import::seeded_input(144, seed);
        let report = imported.compare(&input).unwrap();
        println!("small_cnn seed {seed}: {report}");
        assert!(report.lowering_err < 1e-4, "{report}");
        assert!(report.max_abs_err < 0.05, "{report}");
        assert_eq!(report.top1_agrees, Some(true), "{report}");
    }
}

#[test]
fn conv_variants_import_and_prove_works() {
    // Stride 2, dilation 2, asymmetric padding, no bias; a padded 3x3 average pool that counts
    // only real taps; a padded 3x3 max pool with stride 2; a transpose to channels-last.
    let input = sample_input("conv_variants");
    let imported =
        import_onnx(&data("conv_variants.onnx"), &QuantConfig::default(), &input).unwrap();
    let report = imported.compare(&input).unwrap();
    println!("conv_variants: {report}");
    assert!(report.lowering_err < 1e-4, "{report}");
    assert!(report.max_abs_err < 0.05, "{report}");
    // Average pool windows hold 4, 6 or 9 taps: one factor per output column.
    assert_eq!(kinds(&imported, "mul_weight"), 1);
    // 9 taps: 8 max(a, b), plus the conv's ReLU.
    assert_eq!(kinds(&imported, "relu"), 9);
    prove_and_verify(&imported, &input);
}

#[test]
fn layer_norm_import_and_prove_works() {
    let mut graphs = vec![];
    for name in ["layer_norm", "layer_norm_ops"] {
        let input = sample_input(name);
        let imported = import_onnx(
            &data(&format!("{name}.onnx")),
            &QuantConfig::default(),
            &input,
        )
        .unwrap();
        assert_eq!(imported.graph.input_shape(), model::Shape::new(4, 16));
        let report = imported.compare(&input).unwrap();
        println!("{name}: {report}");
        assert!(report.lowering_err < 1e-4, "{report}");
        assert!(report.max_abs_err < 0.05, "{report}");
        // One LayerNorm: the rsqrt table is its only lookup.
        assert_eq!(kinds(&imported, "lookup"), 1);
        assert_eq!(kinds(&imported, "row_sum"), 2);
        prove_and_verify(&imported, &input);
        graphs.push(imported.graph);
    }
    // The operator and its written-out form give the same graph.
    assert_eq!(graphs[0].nodes, graphs[1].nodes);
    let data = |g: &model::Graph| g.weights.iter().map(|w| w.data.clone()).collect::<Vec<_>>();
    assert_eq!(data(&graphs[0]), data(&graphs[1]));
}

#[test]
fn layer_norm_fragment_fails() {
    // x - mean(x) feeding a MatMul: only the whole LayerNorm is supported.
    let input = sample_input("mean_sub");
    let err = import_onnx(&data("mean_sub.onnx"), &QuantConfig::default(), &input).unwrap_err();
    let msg = err.to_string();
    println!("{msg}");
    assert!(matches!(err, ImportError::Unsupported { .. }), "{msg}");
    assert!(
        msg.contains("mean_sub.onnx") && msg.contains("node 'proj'") && msg.contains("x - mean"),
        "{msg}"
    );
}

#[test]
fn grouped_conv_import_and_prove_works() {
    // Two groups: one kernel matmul whose weight is zero across groups.
    let input = sample_input("conv_group");
    let imported = import_onnx(&data("conv_group.onnx"), &QuantConfig::default(), &input).unwrap();
    let report = imported.compare(&input).unwrap();
    println!("conv_group: {report}");
    assert!(report.lowering_err < 1e-4, "{report}");
    assert!(report.max_abs_err < 0.05, "{report}");
    assert_eq!(kinds(&imported, "matmul"), 1);
    prove_and_verify(&imported, &input);
}

#[test]
fn wide_conv_commits_its_kernel_once() {
    // 16 x 64 x 64 -> 16 x 64 x 64, 3x3: unrolled, a 65536 x 65536 matrix (refused before);
    // here im2col and a 144 x 16 weight, the kernel's 2304 entries (channels are a power of
    // two, so no padding rows).
    let input = model_import::seeded_input(16 * 64 * 64, 3);
    let imported = import_onnx(&data("conv_huge.onnx"), &QuantConfig::default(), &input).unwrap();
    let weights: Vec<model::Shape> = imported.graph.weights.iter().map(|w| w.shape).collect();
    assert_eq!(weights, vec![model::Shape::new(144, 16)]);
    assert_eq!(imported.graph.n_params(), 16 * 16 * 9);
    let report = imported.compare(&input).unwrap();
    println!("conv_huge: {report}");
    assert!(report.lowering_err < 1e-4, "{report}");
    assert!(report.max_abs_err < 0.05, "{report}");
    let (prove, verify) = prove_and_verify(&imported, &input);
    println!("conv_huge: 4096 pixels x 144 taps, prove {prove:.2?}, verify {verify:.2?}");
}

#[test]
fn depthwise_separable_cnn_import_and_prove_works() {
    // Stem Conv stride 2 (BatchNorm folded by tract) + Clip(0, 6); depthwise Conv (group 8) +
    // BatchNorm + HardSwish; pointwise Conv (tract: an EinSum) + BatchNorm + LeakyRelu; Max
    // residual; global pool; Gemm. The symbolic export (batch 'N', an unreadable
    // 'DynamicDimension.0' in value_info) gives the same graph.
    let input = sample_input("dw_cnn");
    let mut graphs = vec![];
    for name in ["dw_cnn", "dw_cnn_symbolic"] {
        let imported = import_onnx(
            &data(&format!("{name}.onnx")),
            &QuantConfig::default(),
            &input,
        )
        .unwrap();
        assert_eq!(imported.graph.input_shape(), model::Shape::new(256, 3));
        let report = imported.compare(&input).unwrap();
        println!("{name}: {report}");
        assert!(report.lowering_err < 1e-4, "{report}");
        assert!(report.max_abs_err < 0.05, "{report}");
        assert_eq!(report.top1_agrees, Some(true), "{report}");
        // stem, depthwise and pointwise kernels, the classifier: committed once each.
        assert_eq!(kinds(&imported, "matmul"), 4);
        let (prove, verify) = prove_and_verify(&imported, &input);
        println!(
            "{name}: {} params, prove {prove:.2?}, verify {verify:.2?}",
            imported.graph.n_params()
        );
        graphs.push(imported.graph);
    }
    assert_eq!(graphs[0].nodes, graphs[1].nodes);
}

#[test]
fn depthwise_separable_cnn_rejects_another_input() {
    // A proof for one image does not verify for another.
    let input = sample_input("dw_cnn");
    let imported = import_onnx(&data("dw_cnn.onnx"), &QuantConfig::default(), &input).unwrap();
    let x = model_import::quantise_input(&imported.source, &imported.config, &input).unwrap();
    let committed =
        zkml::CommittedModel::new(imported.graph.clone(), zkml::ProofConfig::default()).unwrap();
    let (y, proof) = zkml::prove(&committed, &x, &()).unwrap();
    let mut other = x.clone();
    other.data[5] += 7;
    assert!(zkml::verify(&committed.vk, &other, &y, &proof).is_err());
}

#[test]
fn conv_transpose_decoder_import_and_prove_works() {
    // Conv stride 2, ConvTranspose (stride 2, padding, output_padding, 2 groups), ConvTranspose
    // 2x2 stride 2: the output is a 2 x 16 x 16 feature map, compared in NCHW order.
    let input = sample_input("conv_transpose");
    let imported = import_onnx(
        &data("conv_transpose.onnx"),
        &QuantConfig::default(),
        &input,
    )
    .unwrap();
    assert_eq!(imported.graph.output_shape(), model::Shape::new(256, 2));
    assert_eq!(imported.plan.output().nchw, Some([1, 2, 16, 16]));
    let report = imported.compare(&input).unwrap();
    println!("conv_transpose: {report}");
    assert!(report.lowering_err < 1e-4, "{report}");
    assert!(report.max_abs_err < 0.05, "{report}");
    assert_eq!(kinds(&imported, "matmul"), 3);
    let (prove, verify) = prove_and_verify(&imported, &input);
    println!("conv_transpose: prove {prove:.2?}, verify {verify:.2?}");
}

#[test]
fn one_dimensional_kws_cnn_import_and_prove_works() {
    // Conv1d + BatchNorm, strided Conv1d, MaxPool1d, dilated depthwise + pointwise Conv1d,
    // ReduceMean over time, Gemm: 1-D maps are channels-last images of height 1.
    let input = sample_input("kws_cnn");
    let imported = import_onnx(&data("kws_cnn.onnx"), &QuantConfig::default(), &input).unwrap();
    assert_eq!(imported.graph.input_shape(), model::Shape::new(49, 10));
    let report = imported.compare(&input).unwrap();
    println!("kws_cnn: {report}");
    assert!(report.lowering_err < 1e-4, "{report}");
    // Logits up to ~6: 2% of the largest.
    assert!(report.max_rel_err < 0.02, "{report}");
    assert_eq!(report.top1_agrees, Some(true), "{report}");
    let (prove, verify) = prove_and_verify(&imported, &input);
    println!("kws_cnn: prove {prove:.2?}, verify {verify:.2?}");
}

#[test]
fn prelu_import_and_prove_works() {
    // PRelu (tract: Iff(0 > x, x * s, x)) with a slope per channel and one shared slope.
    let input = sample_input("prelu_cnn");
    let imported = import_onnx(&data("prelu_cnn.onnx"), &QuantConfig::default(), &input).unwrap();
    let report = imported.compare(&input).unwrap();
    println!("prelu_cnn: {report}");
    assert!(report.lowering_err < 1e-4, "{report}");
    assert!(report.max_abs_err < 0.05, "{report}");
    // relu(x) per PRelu, nothing else: the two PRelus are the only ReLUs.
    assert_eq!(kinds(&imported, "relu"), 2);
    prove_and_verify(&imported, &input);
}

#[test]
fn nearest_upsampling_imports_and_proves() {
    // Resize nearest x2 by scales (PyTorch's asymmetric / floor, and ONNX's default
    // half_pixel / round_prefer_floor) and x3 by sizes: each a transposed window gather that
    // repeats every pixel, no weights.
    for name in ["upsample_cnn", "upsample_half_pixel"] {
        let input = sample_input(name);
        let imported = import_onnx(
            &data(&format!("{name}.onnx")),
            &QuantConfig::default(),
            &input,
        )
        .unwrap();
        assert_eq!(imported.plan.output().nchw, Some([1, 4, 24, 24]));
        let report = imported.compare(&input).unwrap();
        println!("{name}: {report}");
        assert!(report.lowering_err < 1e-4, "{report}");
        assert!(report.max_abs_err < 0.06, "{report}");
        // Two im2col gathers and the two upsamplings; three kernels.
        assert_eq!(kinds(&imported, "window_gather"), 4);
        assert_eq!(kinds(&imported, "matmul"), 3);
        let (prove, verify) = prove_and_verify(&imported, &input);
        println!("{name}: prove {prove:.2?}, verify {verify:.2?}");
    }
    let input = sample_input("upsample_linear");
    let err = import_onnx(
        &data("upsample_linear.onnx"),
        &QuantConfig::default(),
        &input,
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("mode 'linear'"), "{err}");
}
