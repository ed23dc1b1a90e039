"""TensorRT runner: the engine sidecar (version / GPU checks), the runner's binding and
buffer logic against an in-process stand-in for the tensorrt module, and — where
TensorRT and a GPU exist — a real engine built from the stand-in ONNX graph."""

from __future__ import annotations

import json

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

from helpers.fake_graphs import make_episode_graph, make_split_graphs  # noqa: E402
from helpers.tensorrt_standin import FakeDeviceMemory, fake_plan, make_fake_tensorrt  # noqa: E402
from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.runtime import Segmenter  # noqa: E402
from hsnet_deploy.runtime.tensorrt import runner as tensorrt_runner  # noqa: E402
from hsnet_deploy.runtime.tensorrt.runner import TensorRTRunner  # noqa: E402
from hsnet_deploy.runtime.tensorrt.sidecar import (  # noqa: E402
    check_engine_compatibility,
    read_engine_sidecar,
    sidecar_path,
    write_engine_sidecar,
)

S = 16


def _graph_metadata(onnx_path):
    import onnx

    return {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}


# ---- the sidecar ---------------------------------------------------------------------------
def test_sidecar_round_trip_and_compatibility(tmp_path):
    onnx_path = make_episode_graph(tmp_path / "m.onnx", img_size=S)
    engine = tmp_path / "m.engine"
    written = write_engine_sidecar(engine, _graph_metadata(onnx_path), "10.7.0", "NVIDIA H100", (9, 0), {"hsnet_deploy.precision": "fp16"})
    assert written == sidecar_path(engine) == tmp_path / "m.engine.json"
    record = read_engine_sidecar(engine)
    assert record["hsnet_deploy.graph"] == "episode" and record["hsnet_deploy.compute_capability"] == "9.0"
    assert record["hsnet_deploy.precision"] == "fp16" and record["hsnet_deploy.tensorrt_version"] == "10.7.0"
    check_engine_compatibility(record, "10.7.0", (9, 0), engine)  # same build environment: fine
    with pytest.raises(UserError, match=r"built with TensorRT 10\.7\.0 but this is TensorRT 11\.0\.0"):
        check_engine_compatibility(record, "11.0.0", (9, 0), engine)
    with pytest.raises(UserError, match=r"compute capability 9\.0 \(NVIDIA H100\) but this GPU is compute capability 8\.6"):
        check_engine_compatibility(record, "10.7.0", (8, 6), engine)


def test_sidecar_missing_or_corrupt(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"engine bytes")
    with pytest.raises(UserError, match="no sidecar m.engine.json"):
        read_engine_sidecar(engine)
    with pytest.raises(UserError, match="no sidecar"):
        TensorRTRunner(engine).activate()  # checked before tensorrt is even imported
    sidecar_path(engine).write_text("{not json")
    with pytest.raises(UserError, match="cannot read engine sidecar"):
        read_engine_sidecar(engine)
    sidecar_path(engine).write_text(json.dumps({"hsnet_deploy.img_size": 400}))
    with pytest.raises(UserError, match="JSON object of strings"):
        read_engine_sidecar(engine)


def test_engine_on_cpu_is_refused(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x")
    with pytest.raises(UserError, match="CUDA GPU only"):
        Segmenter.load(engine, device="cpu")


# ---- the runner against a stand-in tensorrt ---------------------------------------------------
def _fake_engine(onnx_path, version="10.99.0", capability=(9, 0)):
    engine = onnx_path.with_suffix(".engine")
    engine.write_bytes(fake_plan(onnx_path))
    write_engine_sidecar(engine, _graph_metadata(onnx_path), version, "Fake GPU", capability)
    return engine


@pytest.fixture
def fake_trt(monkeypatch):
    memory = FakeDeviceMemory()
    monkeypatch.setitem(__import__("sys").modules, "tensorrt", make_fake_tensorrt(memory, version="10.99.0"))
    monkeypatch.setattr(tensorrt_runner, "open_device_memory", lambda backend="auto": memory)
    return memory


def _episode(seed):
    rng = np.random.default_rng(seed)
    imgs = [np.clip(np.linspace(0, 255, w)[None, :, None] + rng.normal(0, 30, (h, w, 3)), 0, 255).astype(np.uint8) for h, w in [(21, 33), (18, 26), (30, 22), (25, 25)]]
    masks = [np.zeros(i.shape[:2], np.uint8) for i in imgs]
    for m in masks:
        m[3:-3, 2 : m.shape[1] // 2] = 1
    return imgs, masks


def test_runner_binds_buffers_and_matches_onnxruntime(tmp_path, fake_trt):
    onnx_path = make_episode_graph(tmp_path / "m.onnx", img_size=S)
    engine = _fake_engine(onnx_path)
    imgs, masks = _episode(0)
    with Segmenter.load(onnx_path, device="cpu") as ref:
        want = [ref.segment_logits(imgs[0], imgs[1:k + 1], masks[1:k + 1]) for k in (1, 3, 2)]
    with Segmenter.load(engine) as seg:
        assert seg.backend == "tensorrt" and seg.img_size == S
        runner = seg.runners["episode"]
        assert runner.inputs["support_imgs"].shape == (None, None, 3, S, S)
        assert runner.metadata["hsnet_deploy.tensorrt_version"] == "10.99.0"
        got = [seg.segment_logits(imgs[0], imgs[1:k + 1], masks[1:k + 1]) for k in (1, 3, 2)]  # K changes: rebind
        assert fake_trt.synchronized == 3
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert fake_trt.blocks == {}  # deactivate freed every buffer


def test_split_engines_cache_the_support(tmp_path, fake_trt):
    onnx_path = make_episode_graph(tmp_path / "m.onnx", img_size=S)
    support, query = make_split_graphs(onnx_path, img_size=S)
    for p in (support, query):
        _fake_engine(p)
    engine = _fake_engine(onnx_path)
    imgs, masks = _episode(1)
    with Segmenter.load(onnx_path, device="cpu") as ref:
        want = ref.segment(imgs[0], imgs[1:3], masks[1:3])
    with Segmenter.load(engine) as seg:
        assert seg.is_split
        seg.set_support(imgs[1:3], masks[1:3])
        np.testing.assert_array_equal(seg.segment(imgs[0]), want)


def test_runner_refuses_other_tensorrt_or_gpu(tmp_path, fake_trt):
    onnx_path = make_episode_graph(tmp_path / "m.onnx", img_size=S)
    with pytest.raises(UserError, match=r"built with TensorRT 10\.1\.0 but this is TensorRT 10\.99\.0"):
        Segmenter.load(_fake_engine(onnx_path, version="10.1.0"))
    with pytest.raises(UserError, match=r"built for compute capability 8\.9 .* this GPU is compute capability 9\.0"):
        Segmenter.load(_fake_engine(onnx_path, capability=(8, 9)))
    engine = _fake_engine(onnx_path)
    engine.write_bytes(b"garbage")
    with pytest.raises(UserError, match="could not deserialize"):
        Segmenter.load(engine)


def test_shape_outside_profile_is_a_user_error(tmp_path, fake_trt):
    engine = _fake_engine(make_episode_graph(tmp_path / "k1.onnx", img_size=S, shots=1))
    imgs, masks = _episode(2)
    with Segmenter.load(engine) as seg:
        runner = seg.runners["episode"]
        feed = {
            "query_img": np.zeros((1, 3, S, S), np.float32),
            "support_imgs": np.zeros((1, 2, 3, S, S), np.float32),
            "support_masks": np.zeros((1, 2, S, S), np.float32),
        }
        with pytest.raises(UserError, match="must have shape"):
            runner.infer(feed)


# ---- a real TensorRT engine (needs tensorrt and a CUDA GPU) -------------------------------------
def _real_tensorrt_or_skip():
    """Skip unless real TensorRT (not just its stubs) and a usable GPU are present."""
    from hsnet_deploy.runtime.tensorrt.cuda_memory import open_device_memory
    from hsnet_deploy.runtime.tensorrt.loader import import_tensorrt

    try:
        import_tensorrt()
        open_device_memory("auto").close()
    except UserError as err:
        pytest.skip(f"no real TensorRT + GPU here: {err}")


@pytest.mark.parametrize("cuda_graph", [False, True])
def test_real_tensorrt_engine_matches_onnxruntime(tmp_path, cuda_graph):
    """Built by `build` itself (strongly typed, profile from the metadata), run by the
    runner with and without CUDA graphs, against onnxruntime on the same graph."""
    _real_tensorrt_or_skip()
    from hsnet_deploy.runtime.backends import RuntimeOptions
    from hsnet_deploy.runtime.tensorrt.build_options import BuildOptions
    from hsnet_deploy.runtime.tensorrt.engine_build import build_engines
    from hsnet_deploy.runtime.tensorrt.profiles import ShapeRange

    onnx_path = make_episode_graph(tmp_path / "m.onnx", img_size=S)
    engine = build_engines(onnx_path, BuildOptions(shots=ShapeRange(1, 2, 5)), bars=None)["episode"]
    imgs, masks = _episode(3)
    with Segmenter.load(onnx_path, device="cpu") as ref, Segmenter.load(engine, options=RuntimeOptions(cuda_graph=cuda_graph)) as seg:
        for k in (1, 3, 3):
            np.testing.assert_allclose(
                seg.segment_logits(imgs[0], imgs[1:k + 1], masks[1:k + 1]),
                ref.segment_logits(imgs[0], imgs[1:k + 1], masks[1:k + 1]),
                rtol=1e-4, atol=1e-4,
            )
