"""Constant folding (export/constant_folding.py) on tiny hand-built graphs: it folds
constant work, and never folds explicit quantization nor FP16 weights cast up to float.

    x (1, 3, 4, 4) --Conv(W)--> y (1, 2, 4, 4)      W = DequantizeLinear(W_int8, scale, 0)
                                                     scale = Mul(half, 0.1)  (constant work)
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from hsnet_deploy.export.constant_folding import fold_constants  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _int8_weight_conv():
    w = np.arange(-3, 3, dtype=np.int8).reshape(2, 3, 1, 1)  # (out, in, kh, kw)
    inits = [numpy_helper.from_array(w, "w_int8"), numpy_helper.from_array(np.array(0.5, np.float32), "half"),
             numpy_helper.from_array(np.array(0.1, np.float32), "tenth"), numpy_helper.from_array(np.array(0, np.int8), "zero")]
    nodes = [
        helper.make_node("Mul", ["half", "tenth"], ["scale"]),  # foldable: constant inputs, no Q/DQ
        helper.make_node("DequantizeLinear", ["w_int8", "scale", "zero"], ["w"]),
        helper.make_node("Identity", ["w"], ["w_copy"]),
        helper.make_node("Conv", ["x", "w_copy"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "int8_conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])], initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _run(model, x):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def test_dequantize_of_constant_int8_weights_is_never_folded():
    model = _int8_weight_conv()
    x = np.random.default_rng(0).standard_normal((1, 3, 4, 4), dtype=np.float32)
    before = _run(model, x)
    fold_constants(model)
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["DequantizeLinear", "Conv"]  # the scale's Mul folded, the Identity bypassed, the DQ kept
    dq = model.graph.node[0]
    inits = {t.name: t for t in model.graph.initializer}
    assert inits[dq.input[0]].data_type == TensorProto.INT8  # the weight is still stored as int8
    assert np.array_equal(_run(model, x), before)


def test_fp16_weights_cast_up_for_an_fp32_island_stay_fp16():
    """y = x * Cast(w16 -> float): the FP16-stored weight is not folded to a float copy."""
    w16 = numpy_helper.from_array(np.linspace(-1, 1, 4, dtype=np.float16).reshape(1, 4), "w16")
    graph = helper.make_graph(
        [helper.make_node("Cast", ["w16"], ["w32"], to=TensorProto.FLOAT), helper.make_node("Mul", ["x", "w32"], ["y"])],
        "island", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])], initializer=[w16],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    fold_constants(model)
    assert [n.op_type for n in model.graph.node] == ["Cast", "Mul"]
    assert [t.data_type for t in model.graph.initializer] == [TensorProto.FLOAT16]
