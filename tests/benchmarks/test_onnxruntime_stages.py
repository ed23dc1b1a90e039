"""onnxruntime's profile split into HSNet's stages: the rules on a hand-made graph, every node
of real exported graphs attributed, a real profile covered, the TensorRT layer mapping,
the GEMM-peak probe. Behaviour only: no test asserts a speed."""

from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
from hsnet_deploy.benchmarks.gemm_peak import onnxruntime_gemm_peak, torch_gemm_peak  # noqa: E402
from hsnet_deploy.benchmarks.onnxruntime_stages import (  # noqa: E402
    SessionProfile,
    node_stages,
    read_profile,
    stage_of_layer,
    stage_seconds,
)
from hsnet_deploy.benchmarks.staged_forward import (  # noqa: E402
    CORRELATION,
    DECODER,
    MIX,
    NETWORK_STAGES,
    QUERY_BACKBONE,
    SQUEEZE,
    SUPPORT_BACKBONE,
    UNATTRIBUTED,
)
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _graph(nodes, inputs, initializers=()):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in inputs],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)], initializer=list(initializers),
    )
    return helper.make_model(graph)


def test_stage_rules_on_a_hand_made_graph():
    n = helper.make_node
    w = numpy_helper.from_array(np.ones(1, np.float32), "w")
    nodes = [
        n("Relu", ["query_img"], ["q"], name="/conv1/Conv"),  # query only
        n("Relu", ["support_imgs"], ["s0"], name="/conv1_1/Conv"),  # support only
        n("Mul", ["s0", "support_masks"], ["s"], name="/Mul"),  # support images and masks: still support
        n("MatMul", ["q", "s"], ["c"], name="/MatMul_3"),  # both -> correlation
        n("Identity", ["w"], ["wd"], name="/w_dequant"),  # reads no input: its reader's stage
        n("Mul", ["c", "wd"], ["x0"], name="/hpn_learner/encoder_layer2.0/conv2/Conv"),
        n("Transpose", ["x0"], ["x1"], name="/hpn_learner/Transpose_5"),  # learner level after squeeze: squeeze
        n("Add", ["x1", "x1"], ["x2"], name="/hpn_learner/Add"),  # merge of levels: at least mixing
        n("Relu", ["x2"], ["x3"], name="/hpn_learner/encoder_layer3to2.6/Relu"),
        n("ReduceMean", ["x3"], ["x4"], name="/hpn_learner/ReduceMean"),
        n("Relu", ["x4"], ["x5"], name="/hpn_learner/decoder2/decoder2.2/Conv"),
        n("Greater", ["x5", "x5"], ["x6"], name="/Greater"),  # the vote after the decoder
        n("Cast", ["x6"], ["mask"], name="/Cast", to=TensorProto.FLOAT),
    ]
    stages = node_stages(_graph(nodes, ["query_img", "support_imgs", "support_masks"], [w]))
    assert stages == {
        "/conv1/Conv": QUERY_BACKBONE, "/conv1_1/Conv": SUPPORT_BACKBONE, "/Mul": SUPPORT_BACKBONE,
        "/MatMul_3": CORRELATION, "/w_dequant": SQUEEZE, "/hpn_learner/encoder_layer2.0/conv2/Conv": SQUEEZE,
        "/hpn_learner/Transpose_5": SQUEEZE, "/hpn_learner/Add": MIX, "/hpn_learner/encoder_layer3to2.6/Relu": MIX,
        "/hpn_learner/ReduceMean": MIX, "/hpn_learner/decoder2/decoder2.2/Conv": DECODER,
        "/Greater": DECODER, "/Cast": DECODER,
    }
    # a query graph: the cached support features are an input of their own -> correlation
    q_nodes = [n("Relu", ["query_img"], ["q"], name="/q"), n("Reshape", ["support_c1", "q"], ["s"], name="/s"), n("MatMul", ["q", "s"], ["c"], name="/m")]
    assert node_stages(_graph(q_nodes, ["query_img", "support_c1"])) == {"/q": QUERY_BACKBONE, "/s": CORRELATION, "/m": CORRELATION}


def test_stage_of_a_tensorrt_layer_is_the_latest_stage_it_fused():
    stages = {"/MatMul_3": CORRELATION, "/hpn_learner/encoder_layer2.0/conv2/Conv": SQUEEZE, "/conv1/Conv": QUERY_BACKBONE}
    assert stage_of_layer("/MatMul_3 + /hpn_learner/encoder_layer2.0/conv2/Conv", stages) == SQUEEZE
    assert stage_of_layer("/conv1/Conv", stages) == QUERY_BACKBONE
    assert stage_of_layer("Reformatting CopyNode for Input Tensor 0", stages) == UNATTRIBUTED


def test_read_profile_splits_runs_and_keeps_kernel_times(tmp_path):
    events = [
        {"cat": "Session", "name": "model_run", "ts": 0, "dur": 100},
        {"cat": "Node", "name": "/a_kernel_time", "ts": 10, "dur": 30, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "/a_fence_before", "ts": 9, "dur": 1},
        {"cat": "Session", "name": "model_run", "ts": 200, "dur": 100},
        {"cat": "Node", "name": "/a_kernel_time", "ts": 210, "dur": 20, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "/b_kernel_time", "ts": 240, "dur": 5, "args": {"op_name": "Add"}},
    ]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(events))
    runs = read_profile(path)
    assert runs == [{"/a": pytest.approx(30e-6)}, {"/a": pytest.approx(20e-6), "/b": pytest.approx(5e-6)}]
    assert stage_seconds(runs[1], {"/a": SQUEEZE}) == {SQUEEZE: pytest.approx(20e-6), UNATTRIBUTED: pytest.approx(5e-6)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, random_hsnet):
    from hsnet_deploy.export import export_split

    out = tmp_path_factory.mktemp("stages") / "r50.onnx"
    return export_split(random_hsnet("resnet50", seed=1), out, img_size=96, progress=False)


def test_every_node_of_the_exported_graphs_gets_a_stage(exported):
    expected = {
        "episode": set(NETWORK_STAGES),
        "support_encoder": {SUPPORT_BACKBONE},
        "query": set(NETWORK_STAGES) - {SUPPORT_BACKBONE},
    }
    for kind, path in exported.items():
        model = onnx.load(str(path), load_external_data=False)
        stages = node_stages(model)
        assert len(stages) == len(model.graph.node)
        assert UNATTRIBUTED not in stages.values(), kind
        assert set(stages.values()) == expected[kind], kind
        for node in model.graph.node:  # the learner's convs by their block
            if node.op_type == "Conv" and "/hpn_learner/encoder_layer2." in node.name:
                assert stages[node.name] == SQUEEZE
            if node.op_type == "Conv" and "/hpn_learner/encoder_layer3to2." in node.name:
                assert stages[node.name] == MIX


def test_a_real_profile_is_covered_by_the_stages(exported):
    from hsnet_deploy.runtime.onnxruntime.runner import OnnxRuntimeRunner

    runner = OnnxRuntimeRunner(str(exported["episode"]), device="cpu", intra_op_threads=1)
    with runner:
        feed = {
            "query_img": np.random.default_rng(0).standard_normal((1, 3, 96, 96), dtype=np.float32),
            "support_imgs": np.random.default_rng(1).standard_normal((1, 1, 3, 96, 96), dtype=np.float32),
            "support_masks": (np.random.default_rng(2).random((1, 1, 96, 96)) > 0.5).astype(np.float32),
        }
        profile = SessionProfile(runner.loader)
        plain = runner.session
        with runner.running_through(profile.session):
            assert runner.session is profile.session and runner.session is not plain
            for _ in range(2):
                runner.infer(feed)
        assert runner.session is plain  # restored: a shared runner never keeps the profiling session
        runs = profile.finish()
    assert len(runs.node_seconds) == 2
    for per_stage, per_node in zip(runs.per_stage(), runs.node_seconds):
        total = sum(per_node.values())
        assert sum(per_stage.values()) == pytest.approx(total)
        assert per_stage.get(UNATTRIBUTED, 0.0) <= 0.01 * total
        assert set(NETWORK_STAGES) <= set(per_stage)
    # the optimised graph onnxruntime ran (fused nodes, layout reorders) is what was attributed
    assert {n.name for n in runs.model.graph.node} >= set(runs.node_seconds[1])


def test_gemm_peak_probes_return_positive_figures():
    for precision in ("fp32", "int8"):
        r = onnxruntime_gemm_peak(precision, threads=1, size=128, repeats=2)
        assert r["gflops"] > 0 and r["seconds"] > 0 and r["precision"] == precision
    assert torch_gemm_peak("fp32", "cpu", size=128, repeats=2)["gflops"] > 0
    with pytest.raises(ValueError, match="unknown precision"):
        onnxruntime_gemm_peak("fp8", size=8)
