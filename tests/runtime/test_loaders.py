"""Loaders from a path or from memory, the one factory with its options, batched queries,
and the graph contract's metadata rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from helpers.fake_graphs import make_episode_graph, make_split_graphs, reference_logits  # noqa: E402
from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.runtime import RuntimeOptions, Segmenter, open_runners  # noqa: E402
from hsnet_deploy.runtime import graph_contract as contract  # noqa: E402
from hsnet_deploy.runtime.onnxruntime.loader import OnnxSessionLoader
from hsnet_deploy.runtime.onnxruntime.runner import OnnxRuntimeRunner  # noqa: E402

S = 16


def _images(n, seed):
    rng = np.random.default_rng(seed)
    sizes = [(21, 33), (18, 26), (30, 22), (25, 25), (17, 40)]
    return [rng.integers(0, 256, (*sizes[i % len(sizes)], 3), dtype=np.uint8) for i in range(n)]


def _masks(images):
    masks = []
    for i, image in enumerate(images):
        m = np.zeros(image.shape[:2], np.uint8)
        m[2 + i : -3, 1 : 4 + 3 * i] = 1
        masks.append(m)
    return masks


# ---- loaders and options -----------------------------------------------------------------
def test_an_in_memory_model_runs_like_its_file(tmp_path):
    path = make_episode_graph(tmp_path / "m.onnx", img_size=S)
    proto = onnx.load(str(path))
    supports = _images(2, 1)
    query = _images(1, 2)[0]
    with Segmenter.load(path, device="cpu") as from_file:
        want = from_file.segment_logits(query, supports, _masks(supports))
    for model in (proto, proto.SerializeToString()):
        with Segmenter.from_models({"episode": model}, "onnxruntime", RuntimeOptions(device="cpu")) as seg:
            assert seg.runners["episode"].path.startswith("<")  # named as in memory
            np.testing.assert_array_equal(seg.segment_logits(query, supports, _masks(supports)), want)


def test_options_reach_the_onnxruntime_session(tmp_path, monkeypatch):
    path = make_episode_graph(tmp_path / "m.onnx", img_size=S)
    seen = {}
    real = ort.InferenceSession

    def spy(model, sess_options=None, providers=None, **kwargs):
        seen.update(threads=sess_options.intra_op_num_threads, providers=list(providers))
        return real(model, sess_options=sess_options, providers=providers, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    runners = open_runners(path, RuntimeOptions(device="cpu", threads=1, providers=("CPUExecutionProvider",)))
    assert seen == {"threads": 1, "providers": ["CPUExecutionProvider"]}
    assert runners["episode"].loader.threads == 1
    for runner in runners.values():
        runner.deactivate()
    with pytest.raises(UserError, match="has no NopeExecutionProvider"):
        open_runners(path, RuntimeOptions(providers=("NopeExecutionProvider",)))
    with pytest.raises(UserError, match="threads must be a positive integer"):
        RuntimeOptions(threads=0)


def test_cpu_sessions_keep_the_query_transpose_out_of_the_correlation_matmul(tmp_path):
    """CPU_DISABLED_OPTIMIZERS: Transpose -> MatMul stays two nodes (onnxruntime would fuse it
    into a FusedMatMul with transA, which ran at half speed on the correlation)."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Transpose", ["q"], ["qt"], perm=[1, 0]), helper.make_node("MatMul", ["qt", "s"], ["y"])], "corr",
        [helper.make_tensor_value_info("q", TensorProto.FLOAT, [8, 5]), helper.make_tensor_value_info("s", TensorProto.FLOAT, [8, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 6])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    optimized = tmp_path / "optimized.onnx"
    session = OnnxSessionLoader(model, device="cpu").session(profile_prefix=str(tmp_path / "p"), optimized_model_path=str(optimized))
    q, s = np.random.default_rng(0).standard_normal((8, 5), dtype=np.float32), np.ones((8, 6), np.float32)
    np.testing.assert_allclose(session.run(None, {"q": q, "s": s})[0], q.T @ s, rtol=1e-5)
    assert Path(session.end_profiling()).is_file()  # the profiler was on
    ops = [n.op_type for n in onnx.load(str(optimized)).graph.node]
    assert "FusedMatMul" not in ops and ops.count("MatMul") == 1


def test_graph_choice_episode_or_split(tmp_path):
    path = make_episode_graph(tmp_path / "m.onnx", img_size=S)
    with pytest.raises(UserError, match="no split graphs beside it"):
        open_runners(path, RuntimeOptions(device="cpu", graphs="split"))
    support, _ = make_split_graphs(path, img_size=S)
    assert set(open_runners(path, RuntimeOptions(device="cpu"))) == {"support_encoder", "query"}
    assert set(open_runners(support, RuntimeOptions(device="cpu", graphs="episode"))) == {"episode"}
    path.unlink()
    with pytest.raises(UserError, match="no episode graph beside it"):
        open_runners(support, RuntimeOptions(device="cpu", graphs="episode"))


def test_a_runner_accepts_a_loader_or_a_path(tmp_path):
    path = make_episode_graph(tmp_path / "m.onnx", img_size=S)
    loader = OnnxSessionLoader(path, device="cpu", threads=1)
    with OnnxRuntimeRunner(loader) as a, OnnxRuntimeRunner(path, device="cpu") as b:
        assert a.loader is loader and a.inputs == b.inputs and a.info == b.info


# ---- batched queries ----------------------------------------------------------------------
@pytest.mark.parametrize("split", [False, True])
def test_segment_batch_is_one_graph_call_equal_to_one_by_one(tmp_path, monkeypatch, split):
    path = make_episode_graph(tmp_path / "m.onnx", img_size=S)
    if split:
        make_split_graphs(path, img_size=S)
    supports = _images(2, 3)
    queries = _images(4, 4)
    calls = []
    original = OnnxRuntimeRunner._infer

    def counting(self, feed, copy_outputs):
        calls.append((self.info.kind, feed["query_img"].shape[0] if "query_img" in feed else None))
        return original(self, feed, copy_outputs)

    with Segmenter.load(path, device="cpu") as seg:
        seg.set_support(supports, _masks(supports))
        one_by_one = [seg.segment(q) for q in queries]
        monkeypatch.setattr(OnnxRuntimeRunner, "_infer", counting)
        batched = seg.segment_batch(queries)
        query_img, _ = seg.prepare_queries(queries)
        support = seg.prepare_support(supports, _masks(supports))
        logits = seg.network_logits(query_img, support)
    kind = "query" if split else "episode"
    assert calls[0] == (kind, 4)  # the four queries in one call
    for got, want in zip(batched, one_by_one):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(logits, reference_logits(query_img, np.repeat(support.images, 4, 0), np.repeat(support.masks, 4, 0)), rtol=1e-5, atol=1e-5)


def test_fixed_batch_graph_runs_queries_one_at_a_time(tmp_path, monkeypatch):
    path = make_episode_graph(tmp_path / "m.onnx", img_size=S, overrides={"hsnet_deploy.batch": "1"})
    supports, queries = _images(1, 5), _images(3, 6)
    batches = []
    original = OnnxRuntimeRunner._infer

    def counting(self, feed, copy_outputs):
        batches.append(feed["query_img"].shape[0])
        return original(self, feed, copy_outputs)

    monkeypatch.setattr(OnnxRuntimeRunner, "_infer", counting)
    with Segmenter.load(path, device="cpu") as seg:
        assert seg.info.batch == 1
        masks = seg.segment_batch(queries, supports, _masks(supports))
    assert batches == [1, 1, 1] and [m.shape for m in masks] == [q.shape[:2] for q in queries]


# ---- the graph contract --------------------------------------------------------------------
def test_split_paths_one_rule_for_every_file_type(tmp_path):
    for suffix in (".onnx", ".engine", ".plan"):
        named = contract.split_paths(tmp_path / f"net.query{suffix}")
        assert named == {
            "episode": tmp_path / f"net{suffix}",
            "support_encoder": tmp_path / f"net.support{suffix}",
            "query": tmp_path / f"net.query{suffix}",
        }
        assert contract.split_tag_of(named["support_encoder"]) == "support_encoder"
        assert contract.split_tag_of(named["episode"]) is None


def test_metadata_round_trip_and_problems():
    meta = contract.graph_metadata("query", "resnet50", 400, None, 17, "random", (1, 10), dynamic_batch=False, precision="fp16")
    assert contract.metadata_problems(meta) == []
    info = contract.GraphInfo.from_metadata(meta, "x.onnx")
    assert (info.kind, info.shots, info.shots_range, info.batch, info.precision) == ("query", None, (1, 10), 1, "fp16")
    assert info.dims()["support_c1"] == [1, "shots", 4, 512, 50, 50]
    assert info.dims()["support_c2"] == [1, "shots", 6, 1024, 25, 25]
    assert info.dims()["support_c3"] == [1, "shots", 3, 2048, 13, 13]
    for key, value, problem in [
        (contract.KEY_PRECISION, "int4", "precision='int4'"),
        (contract.KEY_BATCH, "4", "batch='4'"),
        (contract.KEY_SHOTS_RANGE, "10:1", "shots_range='10:1'"),
        (contract.KEY_SHOTS, "0", "shots='0'"),
        (contract.KEY_IMG_SIZE, "x", "img_size='x'"),
    ]:
        bad = {**meta, key: value}
        assert any(problem in p for p in contract.metadata_problems(bad)), (key, contract.metadata_problems(bad))
        with pytest.raises(UserError, match="bad hsnet-deploy metadata"):
            contract.GraphInfo.from_metadata(bad, "x.onnx")
    missing = {k: v for k, v in meta.items() if k != contract.KEY_VERSION}
    assert contract.metadata_problems(missing) == [f"missing keys: {contract.KEY_VERSION}"]
    contract.GraphInfo.from_metadata(missing, "x.onnx")  # the runtime does not need the version


def test_split_graphs_of_different_batch_are_refused_but_precision_may_differ(tmp_path):
    path = make_episode_graph(tmp_path / "a.onnx", img_size=S)
    make_split_graphs(path, img_size=S, query_overrides={contract.KEY_BATCH: "1"})
    with pytest.raises(UserError, match="different exports .*batch"):
        Segmenter.load(path, device="cpu")
    make_split_graphs(path, img_size=S, query_overrides={contract.KEY_PRECISION: "int8"})
    with Segmenter.load(path, device="cpu") as seg:  # support features are float32 whatever the precision
        assert seg.is_split and seg.precision == "support fp32 + query int8"


def test_torch_free_contract_agrees_with_the_model_spec():
    pytest.importorskip("torch")
    from hsnet_deploy.hsnet.backbone_features import BACKBONES

    for name, spec in BACKBONES.items():
        assert (spec.layers_per_level, spec.channels_per_level) == contract.BACKBONE_LEVELS[name]
