#!/usr/bin/env python3
"""Generates the ONNX test models of `model-import` (fixed seeds, no torch needed).

    pip install onnx numpy
    python3 crates/model-import/scripts/gen_models.py

Writes into crates/model-import/tests/data/:
  mnist_mlp.onnx      784-128-10 MLP (Flatten, Gemm transB=1, Relu, Gemm), input 1x1x28x28
  tiny_act.onnx       16-8-8-4 net with Gemm (no transB), an Erf-form Gelu, MatMul + Add bias,
                      Sigmoid, Mul of two activations, Tanh, a residual Add, Reshape/Identity
  unsupported.onnx    MatMul followed by Softmax (not supported: the importer must say so)
  variants.onnx       symbolic batch dimension; Gelu written as (0.5 x) * (1 + erf(0.7071 x)) with
                      constants first; Sub / Div by constant rows; Relu
  gelu_op.onnx        the opset-20 Gelu operator, which tract 0.21 does not know
  huge.onnx           a MatMul whose outputs (~1e5) no activation scale can hold
  *.input.json        a sample input (flat JSON array) per model
Weights are random (He-scaled); the models test the import, not accuracy on a task.
"""
import json
import os

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
        helper.make_node("Softmax", ["h"], ["p"], name="probs", axis=1),
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


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    mnist_mlp()
    tiny_act()
    unsupported()
    variants()
    gelu_op()
    huge()
