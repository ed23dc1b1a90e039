"""The export pipeline: ExportOptions (one validated options object), the ordered pass
list, the shape-inference cache shared by the passes, and how often it really runs."""

from __future__ import annotations

import dataclasses

import pytest

onnx = pytest.importorskip("onnx")

from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.export import onnx_export, pipeline  # noqa: E402
from hsnet_deploy.export.export_options import ExportOptions  # noqa: E402
from hsnet_deploy.export.precision import convert as precision_convert  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

# ---------------------------------------------------------------- options


def test_options_validate_once_when_made():
    assert ExportOptions().graph == "episode"
    assert ExportOptions(shots=None, shots_range=[1, 5]).shots_range == (1, 5)  # a list becomes a tuple
    bad = {
        "unknown graph kind": dict(graph="decoder"),
        "opset 13 is not supported": dict(opset=13),
        "shots must be a positive integer": dict(shots=0),
        "shots_range must be": dict(shots=None, shots_range=(5, 2)),
        "checkpoint_sha256 must be": dict(checkpoint_sha256="abc"),
        "img_size must be an integer": dict(img_size="big"),
    }
    for message, kwargs in bad.items():
        with pytest.raises(UserError, match=message):
            ExportOptions(**kwargs)
    with pytest.raises(TypeError):  # the precision is the precision stage's (export_split(precision=...)), not one graph's
        ExportOptions(precision="fp16")
    with pytest.raises(UserError, match="too small"):
        ExportOptions(img_size=16).check_backbone("vgg16")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ExportOptions().opset = 18


def test_options_speak_the_contract():
    options = ExportOptions(graph="query", img_size=128, shots=None, shots_range=(1, 5))
    assert options.dims("resnet50")["query_img"] == ["batch", 3, 128, 128]
    assert options.axes()["support_c3"] == {0: "batch", 1: "shots"}
    meta = options.metadata("resnet50", exporter="test")
    assert meta["hsnet_deploy.graph"] == "query" and meta["hsnet_deploy.shots_range"] == "1:5"
    assert meta["hsnet_deploy.precision"] == "fp32"
    assert options.for_graph("episode") == dataclasses.replace(options, graph="episode")


class _Net:
    backbone_name = "vgg16"


from helpers.tiny_model import tiny_model as _tiny_model  # noqa: E402  (one tiny graph for both files)


def test_export_functions_take_keywords_or_options(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(onnx_export, "build_onnx", lambda model, options, progress=None: seen.append(options) or _tiny_model())
    keywords = dict(img_size=64, shots=None, shots_range=(1, 4), dynamic_batch=False, opset=18, graph="query")
    onnx_export.export_onnx(_Net(), tmp_path / "a.onnx", **keywords)
    onnx_export.export_onnx(_Net(), tmp_path / "b.onnx", options=ExportOptions(**keywords))
    assert seen[0] == seen[1] == ExportOptions(**keywords, checkpoint_sha256="random")  # the model records no file
    seen.clear()
    onnx_export.export_split(_Net(), tmp_path / "s.onnx", options=ExportOptions(img_size=64))
    assert [o.graph for o in seen] == ["episode", "support_encoder", "query"]
    assert {dataclasses.replace(o, graph="episode") for o in seen} == {ExportOptions(img_size=64, checkpoint_sha256="random")}  # the model records no file
    with pytest.raises(TypeError, match="not both"):
        onnx_export.export_onnx(_Net(), tmp_path / "c.onnx", options=ExportOptions(), img_size=64)
    with pytest.raises(TypeError, match="unknown export option"):
        onnx_export.export_onnx(_Net(), tmp_path / "c.onnx", size=64)
    with pytest.raises(TypeError, match="no graph= option"):
        onnx_export.export_split(_Net(), tmp_path / "c.onnx", graph="query")
    converted = []  # the precision stage runs on what the FP32 passes built, for the whole set
    monkeypatch.setattr(precision_convert, "convert_graphs", lambda models, options: converted.append((sorted(models), options)) or models)
    onnx_export.export_split(_Net(), tmp_path / "p.onnx", img_size=64, precision="fp16")
    assert [(kinds, o.precision) for kinds, o in converted] == [(["episode", "query", "support_encoder"], "fp16")]
    with pytest.raises(TypeError, match="precision must be"):
        onnx_export.export_onnx(_Net(), tmp_path / "c.onnx", precision=16)
    assert not (tmp_path / "c.onnx").exists()


# ---------------------------------------------------------------- passes and the shape cache


def test_the_fp32_passes_keep_their_order_rules():
    """The rules the list must keep (not the list itself): trace first, check last on stored
    shapes, the metadata written after every rewrite, and constants folded again after the
    last pass that rewrites nodes (its leftovers must not reach the file)."""
    passes = pipeline.fp32_passes()
    names = [p.name for p in passes]
    assert names[0] == "trace" and names[-2:] == ["store shapes", "check"]
    rewriting = [i for i, p in enumerate(passes) if p.effect != pipeline.READS and p.name != "fold constants"]
    assert max(rewriting) < max(i for i, n in enumerate(names) if n == "fold constants") < names.index("metadata")
    stages = [p.stage for p in passes]
    assert sorted(stages, key=pipeline.STAGES.index) == stages and set(stages) == set(pipeline.STAGES)
    assert pipeline.passes_for(ExportOptions()) == passes


def _relu_chain():
    """x (2, 3) -> Relu -> Relu -> y, typed float32."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["y"])], "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_shape_cache_is_reused_until_a_pass_changes_what_it_knows():
    state = pipeline.GraphState(_Net(), ExportOptions(img_size=64), model=_relu_chain())
    log = []

    def look(state):
        log.append(state.inferred().shapes.get("a"))
        return 0

    def add_node(state):  # a shape-keeping rewrite: y = Identity(Relu(...)) via a new tensor
        graph = state.model.graph
        graph.node[-1].output[0] = "b"
        graph.node.append(helper.make_node("Identity", ["b"], ["y"]))
        return 1

    def exact(state):
        log.append("b" in state.inferred(exact=True).shapes)
        return 0

    def to_fp16(state):  # a precision pass: element types change
        graph = state.model.graph
        graph.node.append(helper.make_node("Cast", ["y"], ["y16"], to=TensorProto.FLOAT16))
        graph.output[0].CopyFrom(helper.make_tensor_value_info("y16", TensorProto.FLOAT16, [2, 3]))
        return 1

    def types(state):
        log.append(state.inferred().types.get("y16"))
        return 0

    G = pipeline.GraphPass
    pipeline.run_passes(state, [
        G("look", "clean", look, pipeline.READS),
        G("look again", "clean", look, pipeline.READS),
        G("add", "clean", add_node, pipeline.KEEPS_SHAPES),
        G("look after add", "clean", look, pipeline.READS),  # sound: "a" kept its shape
        G("exact", "check", exact, pipeline.READS),  # the new tensor "b" needs a fresh run
        G("fp16", "check", to_fp16, pipeline.RETYPES),
        G("types", "check", types, pipeline.READS),
    ])
    assert log == [[2, 3], [2, 3], [2, 3], True, TensorProto.FLOAT16]
    assert state.inferences == 3  # first look, exact, after the retyping pass
    assert state.stats == {"look": 0, "look again": 0, "add": 1, "look after add": 0, "exact": 0, "fp16": 1, "types": 0}


def test_shape_inference_runs_twice_per_exported_graph(monkeypatch, random_hsnet):
    """Was 9 per graph (each pass and each folding sweep inferred again); now one lenient
    run for the cleaning passes and one strict run, stored in the file and checked."""
    calls = []
    real = onnx.shape_inference.infer_shapes
    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", lambda *a, **k: calls.append(k.get("strict_mode")) or real(*a, **k))
    proto = onnx_export.build_onnx(random_hsnet("vgg16"), ExportOptions(img_size=64, shots=None))
    assert calls == [False, True]
    assert proto.graph.value_info  # the strict run's shapes are stored
