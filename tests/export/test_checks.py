"""``check_onnx`` on precision variants (tiny hand-made graphs, no torch), and ``check``
reading each file once.

A support-encoder-shaped graph (the contract's names, ranks and dtypes at 8x8):

    support_imgs (1, 1, 3, 8, 8), support_masks (1, 1, 8, 8)
        -> support_c3 / support_c2 / support_c1, each (1, 1, 1, 3, 8, 8) float32

computes in FP16 inside, or through an INT8 weight's DequantizeLinear feeding a Conv.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from hsnet_deploy.export import onnx_check  # noqa: E402
from hsnet_deploy.export.onnx_check import check_onnx  # noqa: E402
from hsnet_deploy.runtime.graph_contract import graph_metadata  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

FEATURES = ("support_c3", "support_c2", "support_c1")
FEATURE_DIMS = [1, 1, 1, 3, 8, 8]


def _model(nodes, inits, imgs_type=TensorProto.FLOAT, out_type=TensorProto.FLOAT, source="x"):
    """``nodes`` compute tensor ``source`` (1, 3, 8, 8) of ``out_type`` from ``imgs`` (the
    support images as (1, 3, 8, 8)); the rest routes it to the contract's outputs (the
    masks are not read: the "mask resize" check fails, and is not what these tests ask)."""
    inits = [*inits, numpy_helper.from_array(np.array(FEATURE_DIMS, dtype=np.int64), "feature_dims"),
             numpy_helper.from_array(np.array([1, 3, 8, 8], dtype=np.int64), "image_dims")]
    head = [helper.make_node("Reshape", ["support_imgs", "image_dims"], ["imgs"])]
    tail = [helper.make_node("Reshape", [source, "feature_dims"], ["feature"])]
    tail += [helper.make_node("Identity", ["feature"], [name]) for name in FEATURES]
    graph = helper.make_graph(
        head + list(nodes) + tail, "tiny",
        [helper.make_tensor_value_info("support_imgs", imgs_type, [1, 1, 3, 8, 8]),
         helper.make_tensor_value_info("support_masks", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info(name, out_type, FEATURE_DIMS) for name in FEATURES],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    for key, value in graph_metadata("support_encoder", "resnet50", 8, 1, 17, "random").items():
        model.metadata_props.add(key=key, value=value)
    return model


def _int8_conv_graph():
    """x = Conv(imgs, DequantizeLinear(W int8, scale, zero point)): an INT8 weight, Q/DQ kept."""
    w = np.arange(-4, 5, dtype=np.int8).reshape(3, 3, 1, 1)  # (out, in, kh, kw)
    inits = [numpy_helper.from_array(w, "w_int8"), numpy_helper.from_array(np.array(0.05, np.float32), "w_scale"),
             numpy_helper.from_array(np.array(0, np.int8), "w_zero")]
    nodes = [helper.make_node("DequantizeLinear", ["w_int8", "w_scale", "w_zero"], ["w"]),
             helper.make_node("Conv", ["imgs", "w"], ["x"])]
    return _model(nodes, inits)


def _fp16_inside_graph(imgs_type=TensorProto.FLOAT, out_type=TensorProto.FLOAT):
    """x = Cast(Cast(imgs, fp16) * Cast(w fp16 initializer, float)...): FP16 inside, float32 I/O."""
    w16 = numpy_helper.from_array(np.full((1, 3, 1, 1), 0.5, dtype=np.float16), "w16")
    nodes = []
    imgs = "imgs"
    if imgs_type == TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", ["imgs"], ["imgs16"], to=TensorProto.FLOAT16))
        imgs = "imgs16"
    nodes.append(helper.make_node("Mul", [imgs, "w16"], ["x16"]))
    nodes.append(helper.make_node("Cast", ["w16"], ["w32"], to=TensorProto.FLOAT))  # an FP32 island's weight
    nodes.append(helper.make_node("Cast", ["x16"], ["x32"], to=TensorProto.FLOAT))
    nodes.append(helper.make_node("Mul", ["x32", "w32"], ["y32"]))
    source = "y32"
    if out_type == TensorProto.FLOAT16:
        nodes.append(helper.make_node("Cast", ["y32"], ["y16"], to=TensorProto.FLOAT16))
        source = "y16"
    return _model(nodes, [w16], imgs_type=imgs_type, out_type=out_type, source=source)


def test_the_tiny_graphs_are_valid_onnx():
    for model in (_int8_conv_graph(), _fp16_inside_graph()):
        onnx.checker.check_model(model, full_check=True)


def test_dequantized_constant_weights_pass_constants_folded():
    report = check_onnx(_int8_conv_graph())
    assert report.check("constants folded").passed, report.format()
    assert "1 Q/DQ or FP16-weight casts kept" in report.check("constants folded").detail
    assert report.check("tensorrt ops").passed and report.check("graph i/o").passed


def test_other_constant_work_still_fails_constants_folded():
    model = _int8_conv_graph()
    model.graph.node.insert(2, helper.make_node("Add", ["w_scale", "w_scale"], ["twice"]))
    model.graph.output.append(helper.make_tensor_value_info("twice", TensorProto.FLOAT, []))
    assert not check_onnx(model).check("constants folded").passed
    cast = _int8_conv_graph()  # a constant cast other than FP16 -> FLOAT is still foldable work
    cast.graph.node.insert(2, helper.make_node("Cast", ["w_scale"], ["scale16"], to=TensorProto.FLOAT16))
    cast.graph.output.append(helper.make_tensor_value_info("scale16", TensorProto.FLOAT16, []))
    assert not check_onnx(cast).check("constants folded").passed


def test_fp16_inside_with_float32_io_passes_graph_io_and_constants_folded():
    report = check_onnx(_fp16_inside_graph())
    assert report.check("graph i/o").passed, report.format()
    assert report.check("constants folded").passed, report.format()  # Cast(w16 -> float) is kept


@pytest.mark.parametrize("where", ["input", "output"])
def test_float16_io_fails_graph_io(where):
    if where == "input":
        model, name = _fp16_inside_graph(imgs_type=TensorProto.FLOAT16), "support_imgs"
    else:
        model, name = _fp16_inside_graph(out_type=TensorProto.FLOAT16), "support_c3"
    result = check_onnx(model).check("graph i/o")
    assert not result.passed
    assert f"{name} is float16, not float32" in result.detail


def test_check_reads_each_file_once_and_checks_the_loaded_model(tmp_path, monkeypatch, capsys):
    from hsnet_deploy.cli import main

    paths = [tmp_path / "a.onnx", tmp_path / "b.onnx"]
    for path in paths:
        onnx.save(_int8_conv_graph(), str(path))
    loads, checked = [], []
    real_load, real_check = onnx.load, onnx.checker.check_model
    monkeypatch.setattr(onnx, "load", lambda f, *a, **k: loads.append(str(f)) or real_load(f, *a, **k))
    monkeypatch.setattr(onnx.checker, "check_model", lambda m, *a, **k: checked.append(type(m).__name__) or real_check(m, *a, **k))
    main(["check", *map(str, paths)])
    assert sorted(loads) == sorted(map(str, paths))  # once each
    assert checked == ["ModelProto", "ModelProto"]
    assert capsys.readouterr().out.count("PASS  onnx checker") == 2

    monkeypatch.setattr(onnx_check, "PROTOBUF_LIMIT", 0)  # as if over 2 GB: the checker reads the file
    checked.clear()
    report = check_onnx(real_load(str(paths[0])), path=paths[0])
    assert checked == ["str"] and report.check("onnx checker").passed
    assert report.size_bytes == paths[0].stat().st_size and report.source == str(paths[0])
