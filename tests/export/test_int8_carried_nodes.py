"""Which data-movement nodes INT8 quantizes along with the Convs and MatMuls (node_groups)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from hsnet_deploy.export.precision.node_groups import int8_carried_nodes  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _graph(clip_max: bool = False):
    """x -> conv_a -> r1 (Reshape) -> t1 (Transpose) -> c1 (Clip 0) -> conv_b -> y
                            \\-> r2 (Reshape) -> add (float) -> z
       conv_a -> r3 (Reshape) -> graph output w"""
    w = numpy_helper.from_array(np.ones((2, 2, 1, 1), np.float32), "w")
    shape = numpy_helper.from_array(np.array([1, 2, 4, 4], np.int64), "shape")
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    six = numpy_helper.from_array(np.array(6.0, np.float32), "six")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["a"], name="conv_a"),
        helper.make_node("Reshape", ["a", "shape"], ["r1"], name="r1"),
        helper.make_node("Transpose", ["r1"], ["t1"], name="t1", perm=[0, 1, 3, 2]),
        helper.make_node("Clip", ["t1", "zero", "six" if clip_max else ""], ["c1"], name="c1"),
        helper.make_node("Conv", ["c1", "w"], ["y"], name="conv_b"),
        helper.make_node("Reshape", ["a", "shape"], ["r2"], name="r2"),
        helper.make_node("Add", ["r2", "r2"], ["z"], name="add"),
        helper.make_node("Reshape", ["a", "shape"], ["w_out"], name="r3"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "z", "w_out")],
        [w, shape, zero, six])
    return helper.make_model(graph)


def test_moves_between_int8_nodes_are_carried_and_nothing_else():
    model = _graph()
    assert int8_carried_nodes(model, ["conv_a", "conv_b"]) == ["r1", "t1", "c1"]
    # r2 feeds a float Add, r3 a graph output: their values are needed in float


def test_nothing_is_carried_into_a_float_node():
    """conv_b kept float (a float group): the chain before it stays float too."""
    assert int8_carried_nodes(_graph(), ["conv_a"]) == []


def test_only_a_relu_clip_is_carried():
    """Clip(0, 6) is not exact on a symmetric int8 scale's range: it and what feeds it stay."""
    assert int8_carried_nodes(_graph(clip_max=True), ["conv_a", "conv_b"]) == []
