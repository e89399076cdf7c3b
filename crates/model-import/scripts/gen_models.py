#!/usr/bin/env python3
"""Generates the ONNX test models of `model-import` (fixed seeds, no torch needed).

    pip install onnx numpy
    python3 crates/model-import/scripts/gen_models.py

Writes into crates/model-import/tests/data/:
  mnist_mlp.onnx      784-128-10 MLP (Flatten, Gemm transB=1, Relu, Gemm), input 1x1x28x28
  tiny_act.onnx       16-8-8-4 net with Gemm (no transB), an Erf-form Gelu, MatMul + Add bias,
                      Sigmoid, Mul of two activations, Tanh, a residual Add, Reshape/Identity
  unsupported.onnx    MatMul followed by LogSoftmax (not supported: the importer must say so)
  softmax_head.onnx   2x16 -> MatMul + bias -> Relu -> MatMul + bias -> Softmax over 10 classes
  softmax_axis.onnx   a Softmax over the middle axis of a 1x4x6 tensor (not supported)
  select_ops.onnx     2x12 -> MatMul, Slice [2, 10), Gather [11, 0, 5, 5], Concat of the three,
                      Unsqueeze + Squeeze, Relu, MatMul
  concat_rows.onnx    a Concat along the batch axis (not supported)
  feature_select.onnx 2x16 -> MatMul + Softmax, aligned Slices [0, 8) and [8, 16) of it and
                      [8, 16) of x (column slices), a Sigmoid gate, Concat of two 8-wide parts
                      (a column concatenation), Relu, MatMul
  slice_step.onnx     2x12 -> Slice step 2, Slice step -3 (reversed), Reshape to 2x3x4 + Slice
                      on the middle axis + Flatten, Concat of the three, Relu, MatMul
  concat_const.onnx   2x6 -> Concat with a constant 2x2 block whose rows agree, MatMul, and the
                      same Concat through Relu + MatMul (tract keeps the Concat)
  concat_const_mm.onnx    the same Concat feeding only the MatMul (tract leaves an added constant
                          of shape 2x3 whose rows agree)
  concat_const_rows.onnx  a Concat with a constant whose rows differ (not supported)
  slice_rows.onnx     a Slice along the batch axis (not supported)
  gather_table.onnx   int64 token ids -> Gather rows of a constant table (an embedding lookup: the
                      proved embedding)
  variants.onnx       symbolic batch dimension; Gelu written as (0.5 x) * (1 + erf(0.7071 x)) with
                      constants first; Sub / Div by constant rows; Relu
  gelu_op.onnx        the opset-20 Gelu operator, which tract 0.21 does not know
  huge.onnx           a MatMul whose outputs (~1e5) no activation scale can hold
  small_cnn.onnx      1x1x12x12 -> Conv 3x3 (4 ch, pad 1) + Relu + MaxPool 2x2 -> Conv 3x3 (8 ch)
                      + Relu -> GlobalAveragePool -> Flatten -> Gemm to 10 classes
  conv_variants.onnx  Conv with stride 2, dilation 2, asymmetric pads and no bias; AveragePool
                      3x3 with padding (count_include_pad=0); MaxPool 3x3 stride 2 with padding;
                      a Transpose that moves data (NCHW -> NHWC) before a Flatten
  layer_norm.onnx     4x16 -> MatMul + bias -> LayerNormalization (opset 17) -> Relu -> MatMul
  layer_norm_ops.onnx the same with LayerNorm written out: ReduceMean, Sub, Pow 2, ReduceMean,
                      Add eps, Sqrt, Div, Mul gamma, Add beta
  mean_sub.onnx       x - ReduceMean(x) fed to a MatMul: a LayerNorm fragment outside the pattern
                      (not supported: the importer must say so)
  conv_group.onnx     a Conv with group = 2
  dw_cnn.onnx         MobileNet-style: Conv stride 2 + BatchNorm + Clip(0, 6), depthwise Conv
                      (group 8) + BatchNorm + HardSwish, pointwise Conv + BatchNorm + LeakyRelu,
                      elementwise Max residual, GlobalAveragePool, Gemm
  conv_transpose.onnx a Conv stride 2, then ConvTranspose (stride 2, padding, output_padding, 2
                      groups) and ConvTranspose 2x2 stride 2: a 2x16x16 feature map out
  kws_cnn.onnx        keyword spotting on 10 MFCC x 49 frames: Conv1d + BatchNorm, strided
                      Conv1d, MaxPool1d, dilated depthwise + pointwise Conv1d, ReduceMean over
                      time, Gemm to 12 classes
  prelu_cnn.onnx      PRelu with one slope per channel and with one shared slope, after Convs
  dw_cnn_symbolic.onnx  the same with a symbolic batch and an exporter's 'DynamicDimension.0'
                      in value_info
  conv_huge.onnx      a wide Conv (16x64x64 -> 16x64x64): its unrolled matrix would be 2^32 entries
  attention.onnx      1x8x32 -> 4-head self-attention as PyTorch exports it (MatMul + bias,
                      Reshape, Transpose, MatMul of two activations, Div, Softmax over the last
                      axis, MatMul, Transpose, Reshape, MatMul + bias), residual, LayerNorm
  attention_einsum.onnx  the same with the two activation products as Einsum
  bert_encoder.onnx   2-layer BERT-like encoder: int64 input_ids and attention_mask (1x8, two
                      padding positions), embeddings + LayerNorm, masked attention, Gelu FFN,
                      post-LayerNorms; its input is a JSON object keyed by input name
  multi_output.onnx   2x16 -> MatMul + bias -> Relu -> MatMul + bias -> Softmax, with four graph
                      outputs: the probabilities, the logits, the hidden features and the input
                      passed through an Identity
  upsample_cnn.onnx   Conv stride 2, Relu, Resize nearest x2 (scales; asymmetric / floor, as
                      PyTorch's Upsample exports it), Conv, Resize nearest x3 (sizes), Conv: a
                      4x24x24 feature map out
  upsample_half_pixel.onnx  the same with ONNX's default half_pixel / round_prefer_floor
  upsample_linear.onnx      the same with linear interpolation (not supported)
  tiny-bert/          bert_encoder's weights as a HuggingFace BertModel folder (config.json,
                      model.safetensors written by hand: no torch or safetensors package)
  *.input.json        a sample input (flat JSON array) per model (none for conv_huge)
Weights are random (He-scaled); the models test the import, not accuracy on a task.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
OPSET = [helper.make_opsetid("", 13)]


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def he(rng, shape, fan_in):
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32)


def save(model, name, x):
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name + ".onnx"))
    if x is None:
        return
    with open(os.path.join(OUT, name + ".input.json"), "w") as f:
        json.dump([round(float(v), 4) for v in x.ravel()], f)


def mnist_mlp():
    rng = np.random.default_rng(784)
    w1, b1 = he(rng, (128, 784), 784), rng.normal(0, 0.05, 128)
    w2, b2 = he(rng, (10, 128), 128), rng.normal(0, 0.05, 10)
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc1.weight", "fc1.bias"], ["h1"], name="fc1", transB=1),
        helper.make_node("Relu", ["h1"], ["a1"], name="relu1"),
        helper.make_node("Gemm", ["a1", "fc2.weight", "fc2.bias"], ["logits"], name="fc2", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "mnist_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        [init("fc1.weight", w1), init("fc1.bias", b1), init("fc2.weight", w2), init("fc2.bias", b2)],
    )
    x = rng.uniform(0.0, 1.0, size=(1, 1, 28, 28)).astype(np.float32)
    save(helper.make_model(graph, opset_imports=OPSET, producer_name="gen_models.py"), "mnist_mlp", x)


def tiny_act():
    rng = np.random.default_rng(16)
    w1, b1 = he(rng, (16, 8), 16), rng.normal(0, 0.1, 8)
    w2, b2 = he(rng, (8, 8), 8), rng.normal(0, 0.1, 8)
    w3, b3 = he(rng, (4, 8), 8), rng.normal(0, 0.1, 4)
    c = lambda name, v: init(name, np.array(v, dtype=np.float32))
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"], name="fc1"),
        # Gelu as PyTorch exports it: 0.5 * x * (1 + erf(x / sqrt(2)))
        helper.make_node("Div", ["h1", "sqrt2"], ["g_div"], name="gelu.div"),
        helper.make_node("Erf", ["g_div"], ["g_erf"], name="gelu.erf"),
        helper.make_node("Add", ["g_erf", "one"], ["g_add"], name="gelu.add"),
        helper.make_node("Mul", ["h1", "g_add"], ["g_mul"], name="gelu.mul"),
        helper.make_node("Mul", ["g_mul", "half"], ["g"], name="gelu.half"),
        helper.make_node("MatMul", ["g", "w2"], ["h2"], name="fc2.matmul"),
        helper.make_node("Add", ["h2", "b2"], ["h2b"], name="fc2.bias"),
        helper.make_node("Sigmoid", ["h2b"], ["s"], name="gate"),
        helper.make_node("Mul", ["g", "s"], ["gs"], name="gated"),
        helper.make_node("Tanh", ["gs"], ["t"], name="tanh"),
        helper.make_node("Add", ["t", "g"], ["r"], name="residual"),
        helper.make_node("Unsqueeze", ["r", "axes0"], ["r3"], name="unsqueeze"),
        helper.make_node("Reshape", ["r3", "shape2"], ["r2"], name="reshape"),
        helper.make_node("Identity", ["r2"], ["ri"], name="identity"),
        helper.make_node("Gemm", ["ri", "w3", "b3"], ["y"], name="fc3", transB=1),
    ]
    inits = [
        init("w1", w1), init("b1", b1), init("w2", w2), init("b2", b2), init("w3", w3),
        init("b3", b3), c("sqrt2", 1.4142135), c("one", 1.0), c("half", 0.5),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axes0"),
        numpy_helper.from_array(np.array([1, 8], dtype=np.int64), "shape2"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_act",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        inits,
    )
    x = rng.uniform(-1.0, 1.0, size=(1, 16)).astype(np.float32)
    save(helper.make_model(graph, opset_imports=OPSET, producer_name="gen_models.py"), "tiny_act", x)


def unsupported():
    rng = np.random.default_rng(3)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="proj"),
        helper.make_node("LogSoftmax", ["h"], ["p"], name="probs", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "unsupported",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 3])],
        [init("w", he(rng, (4, 3), 4))],
    )
    x = rng.uniform(-1.0, 1.0, size=(1, 4)).astype(np.float32)
    save(helper.make_model(graph, opset_imports=OPSET, producer_name="gen_models.py"), "unsupported", x)


def variants():
    rng = np.random.default_rng(4)
    w = he(rng, (4, 4), 4)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="proj"),
        helper.make_node("Mul", ["half", "h"], ["hh"], name="gelu.half"),
        helper.make_node("Mul", ["h", "inv_sqrt2"], ["hs"], name="gelu.scale"),
        helper.make_node("Erf", ["hs"], ["e"], name="gelu.erf"),
        helper.make_node("Add", ["one", "e"], ["e1"], name="gelu.add"),
        helper.make_node("Mul", ["hh", "e1"], ["g"], name="gelu.mul"),
        helper.make_node("Sub", ["g", "offset"], ["gs"], name="shift"),
        helper.make_node("Div", ["gs", "div"], ["gd"], name="norm"),
        helper.make_node("Relu", ["gd"], ["y"], name="relu"),
    ]
    inits = [
        init("w", w), init("half", np.array(0.5)), init("inv_sqrt2", np.array(0.70710677)),
        init("one", np.array(1.0)), init("offset", rng.normal(0, 0.1, 4)),
        init("div", np.array([0.5, 1.0, 2.0, 4.0])),
    ]
    graph = helper.make_graph(
        nodes,
        "variants",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        inits,
    )
    x = rng.uniform(-1.0, 1.0, size=(1, 4)).astype(np.float32)
    save(helper.make_model(graph, opset_imports=OPSET, producer_name="gen_models.py"), "variants", x)


def gelu_op():
    nodes = [helper.make_node("Gelu", ["x"], ["y"], name="act")]
    graph = helper.make_graph(
        nodes,
        "gelu_op",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], producer_name="gen_models.py")
    save(model, "gelu_op", np.zeros((1, 4)))


def huge():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="blowup")]
    graph = helper.make_graph(
        nodes,
        "huge",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [init("w", np.full((2, 2), 1.0e5))],
    )
    save(helper.make_model(graph, opset_imports=OPSET, producer_name="gen_models.py"), "huge", np.ones((1, 2)))


def graph_model(nodes, name, x_shape, y_shape, inits, opset=OPSET):
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
        inits,
    )
    return helper.make_model(graph, opset_imports=opset, producer_name="gen_models.py")


def small_cnn():
    rng = np.random.default_rng(12)
    c1, b1 = he(rng, (4, 1, 3, 3), 9), rng.normal(0, 0.05, 4)
    c2, b2 = he(rng, (8, 4, 3, 3), 36), rng.normal(0, 0.05, 8)
    fc, fb = he(rng, (10, 8), 8), rng.normal(0, 0.05, 10)
    nodes = [
        helper.make_node("Conv", ["x", "conv1.weight", "conv1.bias"], ["h1"], name="conv1",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["h1"], ["a1"], name="relu1"),
        helper.make_node("MaxPool", ["a1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "conv2.weight", "conv2.bias"], ["h2"], name="conv2",
                         kernel_shape=[3, 3]),
        helper.make_node("Relu", ["h2"], ["a2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["a2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="fc", transB=1),
    ]
    inits = [init("conv1.weight", c1), init("conv1.bias", b1), init("conv2.weight", c2),
             init("conv2.bias", b2), init("fc.weight", fc), init("fc.bias", fb)]
    x = rng.uniform(0.0, 1.0, size=(1, 1, 12, 12)).astype(np.float32)
    save(graph_model(nodes, "small_cnn", [1, 1, 12, 12], [1, 10], inits), "small_cnn", x)


def conv_variants():
    rng = np.random.default_rng(9)
    w = he(rng, (3, 2, 3, 3), 18)
    fc = he(rng, (18, 4), 18)
    nodes = [
        # 2x11x11 -> 3x5x4: dilated taps, stride 2, pads (top 1, left 0, bottom 2, right 1).
        helper.make_node("Conv", ["x", "w"], ["h"], name="conv", kernel_shape=[3, 3],
                         strides=[2, 2], dilations=[2, 2], pads=[1, 0, 2, 1]),
        helper.make_node("Relu", ["h"], ["a"], name="relu"),
        # 3x5x4 -> 3x5x4, border windows average fewer taps.
        helper.make_node("AveragePool", ["a"], ["m"], name="avg", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], count_include_pad=0),
        # 3x5x4 -> 3x3x2, padded taps never win.
        helper.make_node("MaxPool", ["m"], ["p"], name="maxpool", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        # channels last before flattening: a permutation of the 18 values
        helper.make_node("Transpose", ["p"], ["t"], name="to_nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("Flatten", ["t"], ["f"], name="flatten", axis=1),
        helper.make_node("Sub", ["f", "shift"], ["fs"], name="recentre"),
        helper.make_node("MatMul", ["fs", "fc"], ["y"], name="head"),
    ]
    inits = [init("w", w), init("shift", rng.normal(0, 0.1, (1, 18))), init("fc", fc)]
    x = rng.uniform(0.0, 1.0, size=(1, 2, 11, 11)).astype(np.float32)
    save(graph_model(nodes, "conv_variants", [1, 2, 11, 11], [1, 4], inits), "conv_variants", x)


def layer_norm_inits(rng):
    w1, b1 = he(rng, (16, 16), 16), rng.normal(0, 0.1, 16)
    gamma, beta = rng.uniform(0.5, 1.5, 16), rng.normal(0, 0.1, 16)
    w2 = he(rng, (16, 8), 16)
    return [init("w1", w1), init("b1", b1), init("gamma", gamma), init("beta", beta), init("w2", w2)]


def layer_norm():
    rng = np.random.default_rng(17)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"], name="fc1"),
        helper.make_node("Add", ["h0", "b1"], ["h"], name="fc1.bias"),
        helper.make_node("LayerNormalization", ["h", "gamma", "beta"], ["n"], name="ln",
                         axis=-1, epsilon=1e-5),
        helper.make_node("Relu", ["n"], ["a"], name="relu"),
        helper.make_node("MatMul", ["a", "w2"], ["y"], name="fc2"),
    ]
    inits = layer_norm_inits(rng)
    x = rng.uniform(-1.0, 1.0, size=(4, 16)).astype(np.float32)
    model = graph_model(nodes, "layer_norm", [4, 16], [4, 8], inits,
                        opset=[helper.make_opsetid("", 17)])
    save(model, "layer_norm", x)


def layer_norm_ops():
    rng = np.random.default_rng(17)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"], name="fc1"),
        helper.make_node("Add", ["h0", "b1"], ["h"], name="fc1.bias"),
        helper.make_node("ReduceMean", ["h"], ["mu"], name="ln.mean", axes=[-1], keepdims=1),
        helper.make_node("Sub", ["h", "mu"], ["d"], name="ln.sub"),
        helper.make_node("Pow", ["d", "two"], ["dd"], name="ln.pow"),
        helper.make_node("ReduceMean", ["dd"], ["var"], name="ln.var", axes=[-1], keepdims=1),
        helper.make_node("Add", ["var", "eps"], ["ve"], name="ln.eps"),
        helper.make_node("Sqrt", ["ve"], ["sd"], name="ln.sqrt"),
        helper.make_node("Div", ["d", "sd"], ["nrm"], name="ln.div"),
        helper.make_node("Mul", ["nrm", "gamma"], ["ng"], name="ln.gamma"),
        helper.make_node("Add", ["ng", "beta"], ["n"], name="ln.beta"),
        helper.make_node("Relu", ["n"], ["a"], name="relu"),
        helper.make_node("MatMul", ["a", "w2"], ["y"], name="fc2"),
    ]
    inits = layer_norm_inits(rng) + [init("two", np.array(2.0)), init("eps", np.array(1e-5))]
    x = rng.uniform(-1.0, 1.0, size=(4, 16)).astype(np.float32)
    save(graph_model(nodes, "layer_norm_ops", [4, 16], [4, 8], inits), "layer_norm_ops", x)


def mean_sub():
    rng = np.random.default_rng(8)
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mu"], name="mean", axes=[-1], keepdims=1),
        helper.make_node("Sub", ["x", "mu"], ["d"], name="centre"),
        helper.make_node("MatMul", ["d", "w"], ["y"], name="proj"),
    ]
    x = rng.uniform(-1.0, 1.0, size=(2, 8)).astype(np.float32)
    save(graph_model(nodes, "mean_sub", [2, 8], [2, 4], [init("w", he(rng, (8, 4), 8))]), "mean_sub", x)


def softmax_head():
    rng = np.random.default_rng(10)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
        helper.make_node("Add", ["h", "b1"], ["hb"], name="fc1.bias"),
        helper.make_node("Relu", ["hb"], ["a"], name="relu"),
        helper.make_node("MatMul", ["a", "w2"], ["z"], name="fc2"),
        helper.make_node("Add", ["z", "b2"], ["logits"], name="fc2.bias"),
        helper.make_node("Softmax", ["logits"], ["y"], name="probs", axis=-1),
    ]
    inits = [init("w1", he(rng, (16, 32), 16)), init("b1", rng.normal(0, 0.1, 32)),
             init("w2", 2.0 * he(rng, (32, 10), 32)), init("b2", rng.normal(0, 0.1, 10))]
    x = rng.uniform(-1.0, 1.0, size=(2, 16)).astype(np.float32)
    save(graph_model(nodes, "softmax_head", [2, 16], [2, 10], inits), "softmax_head", x)


def softmax_axis():
    rng = np.random.default_rng(11)
    nodes = [helper.make_node("Softmax", ["x"], ["y"], name="middle", axis=1)]
    x = rng.uniform(-1.0, 1.0, size=(1, 4, 6)).astype(np.float32)
    save(graph_model(nodes, "softmax_axis", [1, 4, 6], [1, 4, 6], []), "softmax_axis", x)


def select_ops():
    rng = np.random.default_rng(13)
    i64 = lambda name, v: numpy_helper.from_array(np.asarray(v, dtype=np.int64), name)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["a"], name="proj"),
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["b"], name="slice"),
        helper.make_node("Gather", ["x", "idx"], ["c"], name="gather", axis=1),
        helper.make_node("Concat", ["a", "b", "c"], ["d"], name="concat", axis=1),
        helper.make_node("Unsqueeze", ["d", "ax1"], ["e"], name="unsqueeze"),
        helper.make_node("Squeeze", ["e", "ax1"], ["f"], name="squeeze"),
        helper.make_node("Relu", ["f"], ["g"], name="relu"),
        helper.make_node("MatMul", ["g", "w2"], ["y"], name="head"),
    ]
    inits = [init("w1", he(rng, (12, 8), 12)), init("w2", he(rng, (20, 6), 20)),
             i64("starts", [2]), i64("ends", [10]), i64("axes", [1]),
             i64("idx", [11, 0, 5, 5]), i64("ax1", [1])]
    x = rng.uniform(-1.0, 1.0, size=(2, 12)).astype(np.float32)
    save(graph_model(nodes, "select_ops", [2, 12], [2, 6], inits), "select_ops", x)


def concat_rows():
    rng = np.random.default_rng(14)
    nodes = [
        helper.make_node("Concat", ["x", "x"], ["d"], name="stack", axis=0),
        helper.make_node("MatMul", ["d", "w"], ["y"], name="proj"),
    ]
    x = rng.uniform(-1.0, 1.0, size=(2, 4)).astype(np.float32)
    save(graph_model(nodes, "concat_rows", [2, 4], [4, 3], [init("w", he(rng, (4, 3), 4))]),
         "concat_rows", x)


def i64(name, v):
    return numpy_helper.from_array(np.asarray(v, dtype=np.int64), name)


def feature_select():
    rng = np.random.default_rng(15)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["p"], name="proj"),
        helper.make_node("Softmax", ["p"], ["a"], name="probs", axis=-1),
        helper.make_node("Slice", ["a", "s0", "s8", "ax1"], ["lo"], name="lo"),
        helper.make_node("Slice", ["a", "s8", "s16", "ax1"], ["hi"], name="hi"),
        helper.make_node("Sigmoid", ["hi"], ["gate"], name="gate"),
        helper.make_node("Mul", ["lo", "gate"], ["h"], name="glu"),
        helper.make_node("Slice", ["x", "s8", "s16", "ax1"], ["skip"], name="skip"),
        helper.make_node("Concat", ["h", "skip"], ["d"], name="concat", axis=-1),
        helper.make_node("Relu", ["d"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "w2"], ["y"], name="head"),
    ]
    inits = [init("w1", he(rng, (16, 16), 16)), init("w2", he(rng, (16, 4), 16)),
             i64("s0", [0]), i64("s8", [8]), i64("s16", [16]), i64("ax1", [1])]
    x = rng.uniform(-1.0, 1.0, size=(2, 16)).astype(np.float32)
    save(graph_model(nodes, "feature_select", [2, 16], [2, 4], inits), "feature_select", x)


def slice_step():
    rng = np.random.default_rng(16)
    nodes = [
        helper.make_node("Slice", ["x", "s1", "e12", "ax1", "st2"], ["a"], name="odd"),
        helper.make_node("Slice", ["x", "sm1", "emin", "ax1", "stm3"], ["b"], name="reversed"),
        helper.make_node("Reshape", ["x", "shape3"], ["r"], name="reshape"),
        helper.make_node("Slice", ["r", "s1", "e3", "ax1"], ["c3"], name="middle"),
        helper.make_node("Flatten", ["c3"], ["c"], name="flatten", axis=1),
        helper.make_node("Concat", ["a", "b", "c"], ["d"], name="concat", axis=1),
        helper.make_node("Relu", ["d"], ["rl"], name="relu"),
        helper.make_node("MatMul", ["rl", "w"], ["y"], name="head"),
    ]
    inits = [init("w", he(rng, (18, 4), 18)), i64("s1", [1]), i64("e12", [12]),
             i64("ax1", [1]), i64("st2", [2]), i64("sm1", [-1]), i64("emin", [-100]),
             i64("stm3", [-3]), i64("shape3", [2, 3, 4]), i64("e3", [3])]
    x = rng.uniform(-1.0, 1.0, size=(2, 12)).astype(np.float32)
    save(graph_model(nodes, "slice_step", [2, 12], [2, 4], inits), "slice_step", x)


def concat_const(name, c, shared=True):
    rng = np.random.default_rng(17)
    nodes = [
        helper.make_node("Concat", ["x", "c"], ["d"], name="with_const", axis=1),
        helper.make_node("MatMul", ["d", "w"], ["y1" if shared else "y"], name="proj"),
    ]
    if shared:
        nodes += [
            helper.make_node("Relu", ["d"], ["r"], name="relu"),
            helper.make_node("MatMul", ["r", "w2"], ["y2"], name="proj2"),
            helper.make_node("Add", ["y1", "y2"], ["y"], name="sum"),
        ]
    inits = [init("c", c), init("w", he(rng, (8, 3), 8)), init("w2", he(rng, (8, 3), 8))]
    x = rng.uniform(-1.0, 1.0, size=(2, 6)).astype(np.float32)
    save(graph_model(nodes, name, [2, 6], [2, 3], inits), name, x)


def slice_rows():
    rng = np.random.default_rng(18)
    nodes = [
        helper.make_node("Slice", ["x", "s0", "e1", "ax0"], ["d"], name="first_row"),
        helper.make_node("MatMul", ["d", "w"], ["y"], name="proj"),
    ]
    inits = [init("w", he(rng, (4, 3), 4)), i64("s0", [0]), i64("e1", [1]), i64("ax0", [0])]
    x = rng.uniform(-1.0, 1.0, size=(2, 4)).astype(np.float32)
    save(graph_model(nodes, "slice_rows", [2, 4], [1, 3], inits), "slice_rows", x)


def gather_table():
    rng = np.random.default_rng(19)
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["e"], name="embed", axis=0),
        helper.make_node("MatMul", ["e", "w"], ["y"], name="proj"),
    ]
    graph = helper.make_graph(
        nodes,
        "gather_table",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 3])],
        [init("table", rng.normal(0, 1, (16, 8))), init("w", he(rng, (8, 3), 8))],
    )
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="gen_models.py")
    save(model, "gather_table", np.array([3, 1, 4, 1]))


def conv_group():
    rng = np.random.default_rng(5)
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="grouped", kernel_shape=[3, 3],
                              group=2)]
    inits = [init("w", he(rng, (4, 1, 3, 3), 9))]
    x = rng.uniform(0.0, 1.0, size=(1, 2, 6, 6)).astype(np.float32)
    save(graph_model(nodes, "conv_group", [1, 2, 6, 6], [1, 4, 4, 4], inits), "conv_group", x)


def conv_huge():
    rng = np.random.default_rng(6)
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="wide", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1])]
    inits = [init("w", he(rng, (16, 16, 3, 3), 144))]
    save(graph_model(nodes, "conv_huge", [1, 16, 64, 64], [1, 16, 64, 64], inits), "conv_huge", None)


def attention_inits(rng, d, prefix=""):
    inits = []
    for n in ["q", "k", "v", "o"]:
        inits.append(init(prefix + "w" + n, he(rng, (d, d), d)))
        inits.append(init(prefix + "b" + n, rng.normal(0, 0.05, d)))
    inits.append(init(prefix + "gamma", rng.uniform(0.5, 1.5, d)))
    inits.append(init(prefix + "beta", rng.normal(0, 0.1, d)))
    return inits


def attention_nodes(x, y, s, h, dh, prefix="", einsum=False, mask=None):
    """Multi-head self-attention on x (1 x s x h*dh) as PyTorch exports it, with a residual
    and a post-LayerNorm into y. `mask` names an additive (1 x 1 x 1 x s) score bias."""
    p = prefix
    d = h * dh
    nodes = []
    for n in ["q", "k", "v"]:
        nodes += [
            helper.make_node("MatMul", [x, p + "w" + n], [p + n + "0"], name=p + n + "_proj"),
            helper.make_node("Add", [p + n + "0", p + "b" + n], [p + n + "1"], name=p + n + "_bias"),
            helper.make_node("Reshape", [p + n + "1", p + "heads_shape"], [p + n + "2"],
                             name=p + n + "_split"),
        ]
    if einsum:
        nodes += [
            helper.make_node("Einsum", [p + "q2", p + "k2"], [p + "s0"], name=p + "scores",
                             equation="bihd,bjhd->bhij"),
        ]
    else:
        nodes += [
            helper.make_node("Transpose", [p + "q2"], [p + "qt"], name=p + "q_heads", perm=[0, 2, 1, 3]),
            helper.make_node("Transpose", [p + "k2"], [p + "kt"], name=p + "k_heads_t", perm=[0, 2, 3, 1]),
            helper.make_node("MatMul", [p + "qt", p + "kt"], [p + "s0"], name=p + "scores"),
        ]
    nodes.append(helper.make_node("Div", [p + "s0", p + "sqrt_dh"], [p + "s1"], name=p + "scale"))
    scores = p + "s1"
    if mask is not None:
        nodes.append(helper.make_node("Add", [scores, mask], [p + "s2"], name=p + "mask"))
        scores = p + "s2"
    nodes.append(helper.make_node("Softmax", [scores], [p + "pr"], name=p + "softmax", axis=-1))
    if einsum:
        nodes += [
            helper.make_node("Einsum", [p + "pr", p + "v2"], [p + "ctx"], name=p + "context",
                             equation="bhij,bjhd->bihd"),
        ]
    else:
        nodes += [
            helper.make_node("Transpose", [p + "v2"], [p + "vt"], name=p + "v_heads", perm=[0, 2, 1, 3]),
            helper.make_node("MatMul", [p + "pr", p + "vt"], [p + "c0"], name=p + "context"),
            helper.make_node("Transpose", [p + "c0"], [p + "ctx"], name=p + "merge", perm=[0, 2, 1, 3]),
        ]
    nodes += [
        helper.make_node("Reshape", [p + "ctx", p + "model_shape"], [p + "c2"], name=p + "merge_heads"),
        helper.make_node("MatMul", [p + "c2", p + "wo"], [p + "o0"], name=p + "o_proj"),
        helper.make_node("Add", [p + "o0", p + "bo"], [p + "o1"], name=p + "o_bias"),
        helper.make_node("Add", [x, p + "o1"], [p + "r"], name=p + "residual"),
        helper.make_node("LayerNormalization", [p + "r", p + "gamma", p + "beta"], [y],
                         name=p + "ln", axis=-1, epsilon=1e-5),
    ]
    consts = [i64(p + "heads_shape", [1, s, h, dh]), i64(p + "model_shape", [1, s, d]),
              init(p + "sqrt_dh", np.sqrt(dh))]
    return nodes, consts


def attention(name, einsum):
    rng = np.random.default_rng(31)
    s, h, dh = 8, 4, 8
    d = h * dh
    nodes, consts = attention_nodes("x", "y", s, h, dh, einsum=einsum)
    inits = attention_inits(rng, d) + consts
    x = rng.normal(0.0, 1.0, size=(1, s, d)).astype(np.float32)
    model = graph_model(nodes, name, [1, s, d], [1, s, d], inits,
                        opset=[helper.make_opsetid("", 17)])
    save(model, name, x)


def bert_encoder():
    """A 2-layer BERT-like encoder: int64 input_ids and attention_mask (1 x 8, the last two
    positions padding), word + position + token-type embeddings, embedding LayerNorm, per layer
    masked 4-head self-attention with residual + post-LayerNorm and a Gelu FFN with residual +
    post-LayerNorm. Output: last_hidden_state (1 x 8 x 32)."""
    rng = np.random.default_rng(41)
    s, h, dh, ffn, vocab = 8, 4, 8, 64, 64
    d = h * dh
    nodes = [
        helper.make_node("Gather", ["word_emb", "input_ids"], ["we"], name="word_embeddings", axis=0),
        helper.make_node("Gather", ["pos_emb", "position_ids"], ["pe"], name="position_embeddings", axis=0),
        helper.make_node("Gather", ["type_emb", "token_type_ids"], ["te"], name="token_type_embeddings", axis=0),
        helper.make_node("Add", ["we", "pe"], ["e0"], name="emb_add_pos"),
        helper.make_node("Add", ["e0", "te"], ["e1"], name="emb_add_type"),
        helper.make_node("LayerNormalization", ["e1", "emb_gamma", "emb_beta"], ["h0"],
                         name="emb_ln", axis=-1, epsilon=1e-12),
        helper.make_node("Unsqueeze", ["attention_mask", "mask_axes"], ["m0"], name="mask_unsqueeze"),
        helper.make_node("Cast", ["m0"], ["m1"], name="mask_cast", to=TensorProto.FLOAT),
        helper.make_node("Sub", ["one", "m1"], ["m2"], name="mask_invert"),
        helper.make_node("Mul", ["m2", "neg_big"], ["mask"], name="mask_scale"),
    ]
    inits = [
        init("word_emb", rng.normal(0, 0.5, (vocab, d))),
        init("pos_emb", rng.normal(0, 0.2, (64, d))),
        init("type_emb", rng.normal(0, 0.2, (2, d))),
        i64("position_ids", [list(range(s))]),
        i64("token_type_ids", [[0] * s]),
        init("emb_gamma", rng.uniform(0.5, 1.5, d)),
        init("emb_beta", rng.normal(0, 0.1, d)),
        i64("mask_axes", [1, 2]),
        init("one", 1.0),
        init("neg_big", -10000.0),
    ]
    x = "h0"
    for layer in range(2):
        p = f"l{layer}."
        att_nodes, consts = attention_nodes(x, p + "a", s, h, dh, prefix=p, mask="mask")
        nodes += att_nodes
        inits += attention_inits(rng, d, prefix=p) + consts
        nodes += [
            helper.make_node("MatMul", [p + "a", p + "w1"], [p + "f0"], name=p + "ffn_in"),
            helper.make_node("Add", [p + "f0", p + "b1"], [p + "f1"], name=p + "ffn_in_bias"),
            helper.make_node("Div", [p + "f1", p + "sqrt2"], [p + "g0"], name=p + "gelu_div"),
            helper.make_node("Erf", [p + "g0"], [p + "g1"], name=p + "gelu_erf"),
            helper.make_node("Add", [p + "g1", p + "one"], [p + "g2"], name=p + "gelu_add"),
            helper.make_node("Mul", [p + "f1", p + "g2"], [p + "g3"], name=p + "gelu_mul"),
            helper.make_node("Mul", [p + "g3", p + "half"], [p + "g4"], name=p + "gelu_half"),
            helper.make_node("MatMul", [p + "g4", p + "w2"], [p + "f2"], name=p + "ffn_out"),
            helper.make_node("Add", [p + "f2", p + "b2"], [p + "f3"], name=p + "ffn_out_bias"),
            helper.make_node("Add", [p + "a", p + "f3"], [p + "f4"], name=p + "ffn_residual"),
            helper.make_node("LayerNormalization", [p + "f4", p + "ffn_gamma", p + "ffn_beta"],
                             [p + "out"], name=p + "ffn_ln", axis=-1, epsilon=1e-12),
        ]
        inits += [
            init(p + "w1", he(rng, (d, ffn), d)), init(p + "b1", rng.normal(0, 0.05, ffn)),
            init(p + "w2", he(rng, (ffn, d), ffn)), init(p + "b2", rng.normal(0, 0.05, d)),
            init(p + "sqrt2", np.sqrt(2.0)), init(p + "one", 1.0), init(p + "half", 0.5),
            init(p + "ffn_gamma", rng.uniform(0.5, 1.5, d)), init(p + "ffn_beta", rng.normal(0, 0.1, d)),
        ]
        x = p + "out"
    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))
    graph = helper.make_graph(
        nodes,
        "bert_encoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, s]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, s])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [1, s, d])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="gen_models.py")
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, "bert_encoder.onnx"))
    ids = [int(v) for v in rng.integers(1, vocab, s)]
    ids[-2:] = [0, 0]
    with open(os.path.join(OUT, "bert_encoder.input.json"), "w") as f:
        json.dump({"input_ids": [ids], "attention_mask": [[1] * (s - 2) + [0, 0]]}, f)


ALL = {
    "mnist_mlp": mnist_mlp,
    "tiny_act": tiny_act,
    "unsupported": unsupported,
    "variants": variants,
    "gelu_op": gelu_op,
    "huge": huge,
    "small_cnn": small_cnn,
    "conv_variants": conv_variants,
    "layer_norm": layer_norm,
    "layer_norm_ops": layer_norm_ops,
    "mean_sub": mean_sub,
    "softmax_head": softmax_head,
    "softmax_axis": softmax_axis,
    "select_ops": select_ops,
    "concat_rows": concat_rows,
    "feature_select": feature_select,
    "slice_step": slice_step,
    "concat_const": lambda: concat_const("concat_const", [[0.5, -0.25], [0.5, -0.25]]),
    "concat_const_mm": lambda: concat_const("concat_const_mm", [[0.5, -0.25], [0.5, -0.25]],
                                            shared=False),
    "concat_const_rows": lambda: concat_const("concat_const_rows", [[0.5, -0.25], [1.0, 0.0]]),
    "slice_rows": slice_rows,
    "gather_table": gather_table,
    "conv_group": conv_group,
    "conv_huge": conv_huge,
    "attention": lambda: attention("attention", False),
    "attention_einsum": lambda: attention("attention_einsum", True),
    "bert_encoder": bert_encoder,
    "dw_cnn": lambda: dw_cnn("dw_cnn", False),
    "dw_cnn_symbolic": lambda: dw_cnn("dw_cnn_symbolic", True),
    "conv_transpose": lambda: conv_transpose(),
    "kws_cnn": lambda: kws_cnn(),
    "prelu_cnn": lambda: prelu_cnn(),
    "multi_output": lambda: multi_output(),
    "upsample_cnn": lambda: upsample_cnn("upsample_cnn", "asymmetric", "floor", "nearest"),
    "upsample_half_pixel": lambda: upsample_cnn("upsample_half_pixel", "half_pixel",
                                                "round_prefer_floor", "nearest"),
    "tiny_bert": lambda: tiny_bert(),
    "upsample_linear": lambda: upsample_cnn("upsample_linear", "half_pixel",
                                            "round_prefer_floor", "linear"),
}


def bn(rng, prefix, c):
    """BatchNormalization parameters with non-trivial statistics."""
    return [init(prefix + ".scale", rng.uniform(0.5, 1.5, c)),
            init(prefix + ".bias", rng.normal(0, 0.1, c)),
            init(prefix + ".mean", rng.normal(0, 0.2, c)),
            init(prefix + ".var", rng.uniform(0.5, 2.0, c))]


def bn_node(x, y, prefix):
    return helper.make_node("BatchNormalization", [x, prefix + ".scale", prefix + ".bias",
                            prefix + ".mean", prefix + ".var"], [y], name=prefix, epsilon=1e-5)


def dw_cnn(name, symbolic):
    """A MobileNet-style depthwise-separable CNN (3x16x16 input): stem Conv 3x3 stride 2 +
    BatchNorm + Relu6 (Clip 0..6); depthwise Conv 3x3 (group 8) + BatchNorm + HardSwish;
    pointwise Conv 1x1 + BatchNorm + LeakyRelu; a residual Max with the stem; GlobalAveragePool;
    Flatten; Gemm to 10 classes. `symbolic`: the batch is a named dimension and value_info
    carries an exporter's unreadable 'DynamicDimension.0'."""
    rng = np.random.default_rng(21)
    inits = [init("stem.w", he(rng, (8, 3, 3, 3), 27)), init("stem.b", rng.normal(0, 0.05, 8)),
             init("dw.w", he(rng, (8, 1, 3, 3), 9)),
             init("pw.w", he(rng, (8, 8, 1, 1), 8)),
             init("fc.w", he(rng, (10, 8), 8)), init("fc.b", rng.normal(0, 0.05, 10)),
             init("six", np.array(6.0)), init("zero", np.array(0.0))]
    inits += bn(rng, "stem.bn", 8) + bn(rng, "dw.bn", 8) + bn(rng, "pw.bn", 8)
    nodes = [
        helper.make_node("Conv", ["x", "stem.w", "stem.b"], ["s0"], name="stem", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        bn_node("s0", "s1", "stem.bn"),
        helper.make_node("Clip", ["s1", "zero", "six"], ["s2"], name="stem.relu6"),
        helper.make_node("Conv", ["s2", "dw.w"], ["d0"], name="dw", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], group=8),
        bn_node("d0", "d1", "dw.bn"),
        helper.make_node("HardSwish", ["d1"], ["d2"], name="dw.hswish"),
        helper.make_node("Conv", ["d2", "pw.w"], ["p0"], name="pw", kernel_shape=[1, 1]),
        bn_node("p0", "p1", "pw.bn"),
        helper.make_node("LeakyRelu", ["p1"], ["p2"], name="pw.leaky", alpha=0.1),
        helper.make_node("Max", ["p2", "s2"], ["r"], name="residual_max"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], name="fc", transB=1),
    ]
    batch = "N" if symbolic else 1
    model = graph_model(nodes, name, [batch, 3, 16, 16], [batch, 10], inits,
                        opset=[helper.make_opsetid("", 14)])
    if symbolic:
        model.graph.value_info.append(helper.make_tensor_value_info(
            "s2", TensorProto.FLOAT, ["DynamicDimension.0", 8, 8, 8]))
    x = rng.uniform(0.0, 1.0, size=(1, 3, 16, 16)).astype(np.float32)
    save(model, name, x)


def conv_transpose():
    """A small decoder: Conv 3x3 stride 2 (4 -> 6 channels, 8x8 -> 4x4), Relu, ConvTranspose 3x3
    stride 2 with padding and output_padding and 2 groups (6 -> 4 channels, back to 8x8),
    Relu, ConvTranspose 2x2 stride 2 (4 -> 2 channels, 16x16): a feature map as the output."""
    rng = np.random.default_rng(33)
    inits = [init("enc.w", he(rng, (6, 4, 3, 3), 36)), init("enc.b", rng.normal(0, 0.05, 6)),
             init("up1.w", he(rng, (6, 2, 3, 3), 27)), init("up1.b", rng.normal(0, 0.05, 4)),
             init("up2.w", he(rng, (4, 2, 2, 2), 16))]
    nodes = [
        helper.make_node("Conv", ["x", "enc.w", "enc.b"], ["e"], name="enc", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["e"], ["e1"], name="enc.relu"),
        helper.make_node("ConvTranspose", ["e1", "up1.w", "up1.b"], ["u"], name="up1",
                         kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                         output_padding=[1, 1], group=2),
        helper.make_node("Relu", ["u"], ["u1"], name="up1.relu"),
        helper.make_node("ConvTranspose", ["u1", "up2.w"], ["y"], name="up2", kernel_shape=[2, 2],
                         strides=[2, 2]),
    ]
    x = rng.uniform(0.0, 1.0, size=(1, 4, 8, 8)).astype(np.float32)
    save(graph_model(nodes, "conv_transpose", [1, 4, 8, 8], [1, 2, 16, 16], inits),
         "conv_transpose", x)


def kws_cnn():
    """A keyword-spotting CNN over 10 MFCC x 49 frames (1-D convolutions, as exported from
    PyTorch's Conv1d): Conv1d k3 pad 1 (10 -> 16) + BatchNorm + Relu, Conv1d k3 stride 2
    (16 -> 16) + Relu, MaxPool1d 2, depthwise Conv1d k5 dilation 2 (group 16) + pointwise
    Conv1d (16 -> 24) + Relu, ReduceMean over time, Gemm to 12 keywords."""
    rng = np.random.default_rng(49)
    inits = [init("c1.w", he(rng, (16, 10, 3), 30)), init("c1.b", rng.normal(0, 0.05, 16)),
             init("c2.w", he(rng, (16, 16, 3), 48)), init("c2.b", rng.normal(0, 0.05, 16)),
             init("dw.w", he(rng, (16, 1, 5), 5)),
             init("pw.w", he(rng, (24, 16, 1), 16)), init("pw.b", rng.normal(0, 0.05, 24)),
             init("fc.w", he(rng, (12, 24), 24)), init("fc.b", rng.normal(0, 0.05, 12))]
    inits += bn(rng, "c1.bn", 16)
    nodes = [
        helper.make_node("Conv", ["x", "c1.w", "c1.b"], ["a0"], name="c1", kernel_shape=[3],
                         pads=[1, 1]),
        bn_node("a0", "a1", "c1.bn"),
        helper.make_node("Relu", ["a1"], ["a2"], name="c1.relu"),
        helper.make_node("Conv", ["a2", "c2.w", "c2.b"], ["b0"], name="c2", kernel_shape=[3],
                         strides=[2]),
        helper.make_node("Relu", ["b0"], ["b1"], name="c2.relu"),
        helper.make_node("MaxPool", ["b1"], ["p"], name="pool", kernel_shape=[2], strides=[2]),
        helper.make_node("Conv", ["p", "dw.w"], ["d0"], name="dw", kernel_shape=[5],
                         dilations=[2], pads=[4, 4], group=16),
        helper.make_node("Conv", ["d0", "pw.w", "pw.b"], ["e0"], name="pw", kernel_shape=[1]),
        helper.make_node("Relu", ["e0"], ["e1"], name="pw.relu"),
        helper.make_node("ReduceMean", ["e1"], ["m"], name="time_mean", axes=[2], keepdims=0),
        helper.make_node("Gemm", ["m", "fc.w", "fc.b"], ["y"], name="fc", transB=1),
    ]
    x = rng.normal(0.0, 1.0, size=(1, 10, 49)).astype(np.float32)
    save(graph_model(nodes, "kws_cnn", [1, 10, 49], [1, 12], inits), "kws_cnn", x)


def prelu_cnn():
    """PRelu with a slope per channel and with one shared slope: Conv + PRelu(4 slopes) +
    Conv + PRelu(1 slope) + GlobalAveragePool + Flatten + Gemm."""
    rng = np.random.default_rng(61)
    inits = [init("c1.w", he(rng, (4, 2, 3, 3), 18)), init("c2.w", he(rng, (6, 4, 3, 3), 36)),
             init("s1", np.array([0.1, 0.25, -0.2, 0.5]).reshape(4, 1, 1)),
             init("s2", np.array([0.2])),
             init("fc.w", he(rng, (3, 6), 6)), init("fc.b", rng.normal(0, 0.05, 3))]
    nodes = [
        helper.make_node("Conv", ["x", "c1.w"], ["a"], name="c1", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("PRelu", ["a", "s1"], ["a1"], name="prelu1"),
        helper.make_node("Conv", ["a1", "c2.w"], ["b"], name="c2", kernel_shape=[3, 3]),
        helper.make_node("PRelu", ["b", "s2"], ["b1"], name="prelu2"),
        helper.make_node("GlobalAveragePool", ["b1"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], name="fc", transB=1),
    ]
    x = rng.normal(0.0, 1.0, size=(1, 2, 6, 6)).astype(np.float32)
    save(graph_model(nodes, "prelu_cnn", [1, 2, 6, 6], [1, 3], inits), "prelu_cnn", x)


def multi_output():
    rng = np.random.default_rng(44)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
        helper.make_node("Add", ["h", "b1"], ["hb"], name="fc1.bias"),
        helper.make_node("Relu", ["hb"], ["features"], name="relu"),
        helper.make_node("MatMul", ["features", "w2"], ["z"], name="fc2"),
        helper.make_node("Add", ["z", "b2"], ["logits"], name="fc2.bias"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
        helper.make_node("Identity", ["x"], ["echo"], name="echo"),
    ]
    inits = [init("w1", he(rng, (16, 32), 16)), init("b1", rng.normal(0, 0.1, 32)),
             init("w2", 2.0 * he(rng, (32, 10), 32)), init("b2", rng.normal(0, 0.1, 10))]
    out = lambda name, shape: helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
    graph = helper.make_graph(
        nodes, "multi_output",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 16])],
        [out("probs", [2, 10]), out("logits", [2, 10]), out("features", [2, 32]), out("echo", [2, 16])],
        inits)
    x = rng.uniform(-1.0, 1.0, size=(2, 16)).astype(np.float32)
    save(helper.make_model(graph, opset_imports=OPSET, producer_name="gen_models.py"), "multi_output", x)


def upsample_cnn(name, coords, nearest, mode):
    rng = np.random.default_rng(55)
    inits = [init("enc.w", he(rng, (6, 3, 3, 3), 27)), init("enc.b", rng.normal(0, 0.05, 6)),
             init("mid.w", he(rng, (4, 6, 3, 3), 54)), init("mid.b", rng.normal(0, 0.05, 4)),
             init("out.w", he(rng, (4, 4, 1, 1), 4)),
             init("scales", [1.0, 1.0, 2.0, 2.0]),
             numpy_helper.from_array(np.array([1, 4, 24, 24], dtype=np.int64), "sizes")]
    attrs = dict(mode=mode, coordinate_transformation_mode=coords, nearest_mode=nearest)
    nodes = [
        helper.make_node("Conv", ["x", "enc.w", "enc.b"], ["e"], name="enc", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["e"], ["e1"], name="enc.relu"),
        helper.make_node("Resize", ["e1", "", "scales"], ["u"], name="up2", **attrs),
        helper.make_node("Conv", ["u", "mid.w", "mid.b"], ["m"], name="mid", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["m"], ["m1"], name="mid.relu"),
        helper.make_node("Resize", ["m1", "", "", "sizes"], ["u3"], name="up3", **attrs),
        helper.make_node("Conv", ["u3", "out.w"], ["y"], name="out", kernel_shape=[1, 1]),
    ]
    x = rng.uniform(0.0, 1.0, size=(1, 3, 8, 8)).astype(np.float32)
    save(graph_model(nodes, name, [1, 3, 8, 8], [1, 4, 24, 24], inits), name, x)


def write_safetensors(path, tensors):
    """The SafeTensors format: an 8-byte little-endian header length, the JSON header
    (name -> dtype, shape, data_offsets), then the F32 data."""
    header, blobs, at = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for b in blobs:
            f.write(b)


def tiny_bert():
    """bert_encoder.onnx's weights as a BertModel folder: HuggingFace names, Linear weights as
    out x in."""
    m = onnx.load(os.path.join(OUT, "bert_encoder.onnx"))
    w = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    t = {
        "embeddings.word_embeddings.weight": w["word_emb"],
        "embeddings.position_embeddings.weight": w["pos_emb"],
        "embeddings.token_type_embeddings.weight": w["type_emb"],
        "embeddings.LayerNorm.weight": w["emb_gamma"],
        "embeddings.LayerNorm.bias": w["emb_beta"],
    }
    for layer in range(2):
        p, hf = f"l{layer}.", f"encoder.layer.{layer}."
        for n, name in [("q", "query"), ("k", "key"), ("v", "value")]:
            t[hf + f"attention.self.{name}.weight"] = w[p + "w" + n].T
            t[hf + f"attention.self.{name}.bias"] = w[p + "b" + n]
        t[hf + "attention.output.dense.weight"] = w[p + "wo"].T
        t[hf + "attention.output.dense.bias"] = w[p + "bo"]
        t[hf + "attention.output.LayerNorm.weight"] = w[p + "gamma"]
        t[hf + "attention.output.LayerNorm.bias"] = w[p + "beta"]
        t[hf + "intermediate.dense.weight"] = w[p + "w1"].T
        t[hf + "intermediate.dense.bias"] = w[p + "b1"]
        t[hf + "output.dense.weight"] = w[p + "w2"].T
        t[hf + "output.dense.bias"] = w[p + "b2"]
        t[hf + "output.LayerNorm.weight"] = w[p + "ffn_gamma"]
        t[hf + "output.LayerNorm.bias"] = w[p + "ffn_beta"]
    d = os.path.join(OUT, "tiny-bert")
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, "model.safetensors"), t)
    config = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 64,
              "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
              "intermediate_size": 64, "max_position_embeddings": 64, "type_vocab_size": 2,
              "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


if __name__ == "__main__":
    # With model names as arguments, only those are written (the others stay byte for byte).
    os.makedirs(OUT, exist_ok=True)
    for name in sys.argv[1:] or ALL:
        ALL[name]()
