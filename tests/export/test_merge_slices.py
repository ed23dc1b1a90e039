"""The merge-slices pass: one Slice for x[..., ::s, ::s], same values, and the cases it
must leave alone."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from hsnet_deploy.export.merge_slices import merge_slices  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _const(name, values):
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def _model(slices, extra_outputs=()):
    """x (3, 4, 10, 9) through Slices given as (starts, ends, axes, steps) in a chain."""
    nodes, inits, prev = [], [], "x"
    for i, (st, en, ax, sp) in enumerate(slices):
        names = [f"s{i}", f"e{i}", f"a{i}", f"p{i}"]
        inits += [_const(n, v) for n, v in zip(names, (st, en, ax, sp))]
        nodes.append(helper.make_node("Slice", [prev] + names, [f"y{i}"], name=f"/Slice_{i}"))
        prev = f"y{i}"
    outputs = [helper.make_tensor_value_info(prev, TensorProto.FLOAT, None)]
    outputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in extra_outputs]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4, 10, 9])], outputs, initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model):
    x = np.arange(3 * 4 * 10 * 9, dtype=np.float32).reshape(3, 4, 10, 9)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


BIG = 2**62


def test_strided_pivots_become_one_slice_with_the_same_values():
    chain = [([0], [BIG], [2], [4]), ([1], [BIG], [3], [3]), ([0], [2], [0], [1])]  # x[:2, :, ::4, 1::3] in three Slices
    model = _model(chain)
    expected = _run(model)[0]
    assert merge_slices(model) == 2
    assert [n.op_type for n in model.graph.node] == ["Slice"]
    got = _run(model)[0]
    np.testing.assert_array_equal(got, expected)
    x = np.arange(3 * 4 * 10 * 9, dtype=np.float32).reshape(3, 4, 10, 9)
    np.testing.assert_array_equal(got, x[:2, :, ::4, 1::3])


def test_pairs_it_must_not_merge():
    same_axis = _model([([0], [BIG], [2], [2]), ([1], [BIG], [2], [2])])  # both cut axis 2
    assert merge_slices(same_axis) == 0
    negative = _model([([0], [BIG], [-1], [2]), ([0], [BIG], [2], [2])])  # rank not assumed
    assert merge_slices(negative) == 0
    read_twice = _model([([0], [BIG], [2], [2]), ([0], [BIG], [3], [2])], extra_outputs=["y0"])  # y0 also a graph output
    assert merge_slices(read_twice) == 0
    assert len(read_twice.graph.node) == 2
