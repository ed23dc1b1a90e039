"""check_onnx: every failure path of the checks that a mutation probe found untested.

Each test builds a tiny hand-made graph (onnx.helper, no model export) twice: a minimal
correct variant, on which the named check passes, and the same graph with one problem,
on which the named check fails. Where the problem can only show up in one check, the
set of checks that newly fail (relative to the correct variant) is pinned exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

from hsnet_deploy.export import check_onnx  # noqa: E402
from hsnet_deploy.hsnet.mask_resize import linear_resize_matrix  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def i64(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def f32(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.float32), name)


def graph(extra_nodes=(), extra_inits=(), dims=(1, 1, 8, 8), opset=17, recorded_opset="same",
          second_matmul=None, extra_opsets=()):
    """support_masks ``dims`` resized to 4x4 by MatMul(rows, masks) then MatMul(., cols),
    both with constant weights, and valid hsnet_deploy metadata.

    ``second_matmul``: replace the second MatMul's node list (the mask-resize problems);
    ``recorded_opset``: the hsnet_deploy.opset value ("same" = ``opset``, None = absent).
    """
    rows = linear_resize_matrix(8, 4).numpy()
    inits = [numpy_helper.from_array(rows, "rows"), numpy_helper.from_array(rows.T.copy(), "cols"), *extra_inits]
    first = [helper.make_node("MatMul", ["rows", "support_masks"], ["half"])]  # (B, 1, 4, 8)
    second = second_matmul if second_matmul is not None else [helper.make_node("MatMul", ["half", "cols"], ["y"])]
    out_dims = [dims[0], 1, 4, 4]
    g = helper.make_graph(
        [*first, *second, *extra_nodes], "tiny",
        [helper.make_tensor_value_info("support_masks", TensorProto.FLOAT, list(dims))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_dims)], initializer=inits,
    )
    opsets = [helper.make_opsetid("", opset), *(helper.make_opsetid(d, v) for d, v in extra_opsets)]
    model = helper.make_model(g, opset_imports=opsets, ir_version=8)
    meta = {"hsnet_deploy.graph": "support_encoder", "hsnet_deploy.backbone": "resnet50", "hsnet_deploy.img_size": "8",
            "hsnet_deploy.shots": "1", "hsnet_deploy.checkpoint_sha256": "random", "hsnet_deploy.version": "0"}
    if recorded_opset is not None:
        meta["hsnet_deploy.opset"] = str(opset) if recorded_opset == "same" else recorded_opset
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    return model


DYNAMIC = ("batch", 1, 8, 8)


def failed(report) -> set[str]:
    return {c.name for c in report.failed}


def assert_named_check_flips(good_model, bad_model, name, also=frozenset()):
    """``name`` passes on the good graph and fails on the bad one; the checks newly failing
    are exactly {name} | also (``also``: checks that necessarily see the same problem)."""
    good, bad = check_onnx(good_model), check_onnx(bad_model)
    assert good.check(name).passed, f"correct variant fails {name}: {good.format()}"
    assert not bad.check(name).passed, f"{name} missed the problem: {bad.format()}"
    newly = failed(bad) - failed(good)
    assert newly == {name, *also}, f"newly failing {sorted(newly)}: {bad.format()}"
    return good, bad


def test_the_correct_variants_pass_every_check_but_graph_io():
    for model in (graph(), graph(dims=DYNAMIC)):
        report = check_onnx(model)
        assert failed(report) == {"graph i/o"}, report.format()  # not the contract's support-encoder I/O


# ---------------------------------------------------------------- static shapes


def test_static_shapes_rejects_a_nonzero_node():
    bad = graph([helper.make_node("NonZero", ["support_masks"], ["nz"])])
    _, report = assert_named_check_flips(graph(), bad, "static shapes")
    assert "data-dependent ops: NonZero" in report.check("static shapes").detail


def _data_ends():
    """ends = [int(max(masks))]: a value computed from the pixels."""
    return [
        helper.make_node("ReduceMax", ["support_masks"], ["mx"], keepdims=0),  # scalar
        helper.make_node("Unsqueeze", ["mx", "ax0"], ["mx1"]),  # (1,)
        helper.make_node("Cast", ["mx1"], ["data_ends"], to=TensorProto.INT64),
    ]


def test_static_shapes_rejects_slice_bounds_that_depend_on_data():
    inits = [i64("ax0", [0]), i64("starts", [0]), i64("axis3", [3]), i64("const_ends", [1])]
    good = graph([*_data_ends(), helper.make_node("Slice", ["support_masks", "starts", "const_ends", "axis3"], ["sl"])], inits)
    bad = graph([*_data_ends(), helper.make_node("Slice", ["support_masks", "starts", "data_ends", "axis3"], ["sl"])], inits)
    _, report = assert_named_check_flips(good, bad, "static shapes")
    assert "input 2 (data_ends) depends on data" in report.check("static shapes").detail


def test_static_shapes_and_reshape_targets_reject_a_target_that_depends_on_data():
    """Reshape(masks, [int(max(masks)), -1]) is data-dependent; Reshape(masks,
    [Shape(masks)[0], -1]) reads only a graph input's dims and is accepted (dynamic batch)."""
    inits = [i64("ax0", [0]), i64("minus1", [-1]), i64("s0", [0]), i64("s1", [1])]
    dims_target = [helper.make_node("Shape", ["support_masks"], ["shp"]),
                   helper.make_node("Slice", ["shp", "s0", "s1"], ["b"]),
                   helper.make_node("Concat", ["b", "minus1"], ["dims_target"], axis=0)]
    good = graph([*dims_target, helper.make_node("Reshape", ["support_masks", "dims_target"], ["flat"])], inits, dims=DYNAMIC)
    bad = graph([*_data_ends(), helper.make_node("Concat", ["data_ends", "minus1"], ["data_target"], axis=0),
                 helper.make_node("Reshape", ["support_masks", "data_target"], ["flat"])], inits, dims=DYNAMIC)
    good_report, report = assert_named_check_flips(good, bad, "static shapes", also={"reshape targets"})
    assert "Reshape" in report.check("static shapes").detail and "depends on data" in report.check("static shapes").detail
    assert "computed at run time" in report.check("reshape targets").detail
    assert "built from input dims" in good_report.check("reshape targets").detail


def test_static_shapes_rejects_the_shape_of_an_intermediate_tensor():
    """Shape(half) with half (batch, 1, 4, 8): a shape read at run time from an intermediate
    (not foldable: its batch is dynamic); Shape(support_masks) of the graph input is fine."""
    good = graph([helper.make_node("Shape", ["support_masks"], ["shp"])], dims=DYNAMIC)
    bad = graph([helper.make_node("Shape", ["half"], ["shp"])], dims=DYNAMIC)
    _, report = assert_named_check_flips(good, bad, "static shapes")
    assert "Shape of an intermediate tensor (half)" in report.check("static shapes").detail


# ---------------------------------------------------------------- constants folded


def test_constants_folded_rejects_the_shape_of_a_static_graph_input():
    good = graph([helper.make_node("Shape", ["support_masks"], ["shp"])], dims=DYNAMIC)
    bad = graph([helper.make_node("Shape", ["support_masks"], ["shp"])], dims=(1, 1, 8, 8))
    _, report = assert_named_check_flips(good, bad, "constants folded")
    assert "Shape of static support_masks" in report.check("constants folded").detail


def test_constants_folded_rejects_the_shape_of_a_static_intermediate_tensor():
    good = graph([helper.make_node("Shape", ["half"], ["shp"])], dims=DYNAMIC)  # dynamic: not foldable
    bad = graph([helper.make_node("Shape", ["half"], ["shp"])], dims=(1, 1, 8, 8))
    good_report = check_onnx(good)
    assert good_report.check("constants folded").passed, good_report.format()
    report = check_onnx(bad)
    assert not report.check("constants folded").passed, report.format()
    assert "Shape of static half" in report.check("constants folded").detail
    assert not report.check("static shapes").passed  # an intermediate's Shape, in both


# ---------------------------------------------------------------- shape inference


def test_shape_inference_check_runs_strict_inference():
    """MatMul((1, 1, 4, 8), (3, 3)): incompatible inner dims. Lenient inference skips the node
    silently; the strict check must fail (the checker's full check sees it as well, and the
    tensor's rank is then unknown)."""
    good = graph([helper.make_node("MatMul", ["half", "w"], ["bad_product"])], [f32("w", np.ones((8, 3)))])
    bad = graph([helper.make_node("MatMul", ["half", "w"], ["bad_product"])], [f32("w", np.ones((3, 3)))])
    _, report = assert_named_check_flips(good, bad, "shape inference", also={"onnx checker", "rank <= 8"})
    assert report.check("shape inference").detail  # the inference error, not an empty message
    assert "bad_product" in report.check("rank <= 8").detail


# ---------------------------------------------------------------- reshape targets


@pytest.mark.parametrize("target", [[-1, -1, 64], [-1, 1, -1], [-1, -1, -1, -1]])
def test_reshape_targets_rejects_several_minus_ones(target):
    good = graph([helper.make_node("Reshape", ["support_masks", "tgt"], ["flat"])], [i64("tgt", [-1, 1, 64])])
    bad = graph([helper.make_node("Reshape", ["support_masks", "tgt"], ["flat"])], [i64("tgt", target)])
    good_report, report = check_onnx(good), check_onnx(bad)
    assert good_report.check("reshape targets").passed and good_report.check("reshape targets").detail == "1 constant"
    assert not report.check("reshape targets").passed, report.format()
    assert "has several -1" in report.check("reshape targets").detail
    assert "reshape targets" in failed(report) - failed(good_report)


# ---------------------------------------------------------------- mask resize


def test_mask_resize_rejects_matmuls_of_which_only_some_have_constant_weights():
    """MatMul(half, Transpose(half)): the second MatMul acting on the masks has no constant operand."""
    partial = [helper.make_node("Transpose", ["half"], ["half_t"], perm=[0, 1, 3, 2]),  # (B, 1, 8, 4)
               helper.make_node("MatMul", ["half", "half_t"], ["y"])]  # (B, 1, 4, 4)
    _, report = assert_named_check_flips(graph(), graph(second_matmul=partial), "mask resize")
    assert "found 1 of 2" in report.check("mask resize").detail


def test_mask_resize_rejects_masks_resized_without_any_matmul():
    pooled = [helper.make_node("AveragePool", ["support_masks"], ["y"], kernel_shape=[2, 2], strides=[2, 2])]
    model = graph(second_matmul=pooled)
    model.graph.node.remove(model.graph.node[0])  # drop MatMul(rows, masks) too
    _, report = assert_named_check_flips(graph(), model, "mask resize")
    assert "found 0 of 0" in report.check("mask resize").detail


def test_mask_resize_rejects_a_resize_of_a_tensor_computed_from_the_masks():
    """Besides the constant MatMuls, a Resize of ``half`` (computed from the masks alone)."""
    resize = [helper.make_node("Resize", ["half", "", "scales"], ["small"], mode="linear")]
    _, report = assert_named_check_flips(graph(), graph(resize, [f32("scales", [1, 1, 0.5, 0.5])]), "mask resize")
    assert "a Resize acts on the support masks" in report.check("mask resize").detail


# ---------------------------------------------------------------- opset


@pytest.mark.parametrize("opset", [8, 25])
def test_opset_outside_tensorrts_range_fails_even_when_recorded(opset):
    _, report = assert_named_check_flips(graph(), graph(opset=opset), "opset")
    assert f"opset {opset} outside TensorRT's 9..24" in report.check("opset").detail


@pytest.mark.parametrize("opset", [9, 24])
def test_opset_range_is_inclusive(opset):
    report = check_onnx(graph(opset=opset))
    assert report.check("opset").passed, report.format()
    assert failed(report) == {"graph i/o"}


@pytest.mark.parametrize("recorded", ["16", "18", "17.0", ""])
def test_opset_must_equal_the_recorded_metadata(recorded):
    _, report = assert_named_check_flips(graph(), graph(recorded_opset=recorded), "opset")
    assert f"metadata hsnet_deploy.opset says {recorded!r}" in report.check("opset").detail


def test_opset_missing_from_metadata_fails_opset_and_metadata():
    report = check_onnx(graph(recorded_opset=None))
    assert failed(report) == {"graph i/o", "opset", "metadata"}, report.format()
    assert "says None" in report.check("opset").detail


def test_opset_rejects_non_standard_domains():
    _, report = assert_named_check_flips(graph(), graph(extra_opsets=[("com.microsoft", 1)]), "opset")
    assert "non-standard op domains: com.microsoft" in report.check("opset").detail
