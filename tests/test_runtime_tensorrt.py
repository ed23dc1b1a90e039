"""TensorRT runner: the engine sidecar (version / GPU checks), the runner's binding and
buffer logic against an in-process stand-in for the tensorrt module, and — where
TensorRT and a GPU exist — a real engine built from the stand-in ONNX graph."""

from __future__ import annotations

import itertools
import json
import types

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

from test_runtime_fake_graphs import make_episode_graph, make_split_graphs  # noqa: E402

from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.runtime import Segmenter, tensorrt_runner  # noqa: E402
from hsnet_deploy.runtime.cuda_memory import DeviceBuffer, DeviceMemory  # noqa: E402
from hsnet_deploy.runtime.engine_sidecar import (  # noqa: E402
    check_engine_compatibility,
    read_engine_sidecar,
    sidecar_path,
    write_engine_sidecar,
)
from hsnet_deploy.runtime.tensorrt_runner import TensorRTRunner  # noqa: E402

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
class FakeDeviceMemory(DeviceMemory):
    """'Device' memory in host arrays, addressed by integer pointers like CUDA's."""

    name = "fake"
    STREAM = 0xC0FFEE

    def __init__(self):
        self.blocks: dict[int, np.ndarray] = {}
        self._next = itertools.count(0x1000, 0x1000)
        self.synchronized = 0

    def alloc(self, nbytes):
        ptr = next(self._next)
        self.blocks[ptr] = np.zeros(max(nbytes, 1), np.uint8)
        return DeviceBuffer(ptr, nbytes, self.blocks[ptr])

    def free(self, buffer):
        del self.blocks[buffer.ptr]

    def to_device(self, buffer, host):
        self.blocks[buffer.ptr][: host.nbytes] = host.reshape(-1).view(np.uint8)

    def to_host(self, host, buffer):
        host.reshape(-1).view(np.uint8)[:] = self.blocks[buffer.ptr][: host.nbytes]

    @property
    def stream_handle(self):
        return self.STREAM

    def synchronize(self):
        self.synchronized += 1

    def gpu(self):
        return "Fake GPU", (9, 0)


def make_fake_tensorrt(memory: FakeDeviceMemory, version="10.99.0"):
    """A module with the slice of the TensorRT 10/11 runtime API the runner uses; the
    'engine' is ONNX bytes run by onnxruntime, reading and writing the fake device memory."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.DataType = types.SimpleNamespace(FLOAT="f32", HALF="f16", UINT8="u8", INT32="i32", INT64="i64", INT8="i8", BOOL="b")
    trt.TensorIOMode = types.SimpleNamespace(INPUT="in", OUTPUT="out")
    to_trt = {"tensor(float)": "f32", "tensor(uint8)": "u8"}
    to_np = {"f32": np.float32, "u8": np.uint8}

    class Logger:
        WARNING = 2

        def __init__(self, level):
            self.level = level

    class Context:
        def __init__(self, engine):
            self.engine, self.shapes, self.addresses = engine, {}, {}

        def set_input_shape(self, name, shape):
            spec = self.engine.io[name]
            if len(shape) != len(spec[2]) or any(d not in (-1, s) for d, s in zip(spec[2], shape)):
                return False
            self.shapes[name] = tuple(shape)
            return True

        def _outputs_for_shapes(self):
            feed = {n: np.zeros(s, to_np[self.engine.io[n][1]]) for n, s in self.shapes.items()}
            return dict(zip(self.engine.outputs, self.engine.session.run(self.engine.outputs, feed)))

        def get_tensor_shape(self, name):
            if name in self.shapes:
                return self.shapes[name]
            assert set(self.shapes) == set(self.engine.inputs), "output shape asked before all input shapes"
            return self._outputs_for_shapes()[name].shape

        def set_tensor_address(self, name, ptr):
            assert ptr in memory.blocks, "address is not a live device allocation"
            self.addresses[name] = ptr

        def execute_async_v3(self, stream):
            assert stream == memory.STREAM
            assert set(self.addresses) == set(self.engine.io), "every I/O tensor needs an address"
            feed = {}
            for name in self.engine.inputs:
                dtype = np.dtype(to_np[self.engine.io[name][1]])
                n = int(np.prod(self.shapes[name])) * dtype.itemsize
                feed[name] = memory.blocks[self.addresses[name]][:n].view(dtype).reshape(self.shapes[name])
            for name, value in zip(self.engine.outputs, self.engine.session.run(self.engine.outputs, feed)):
                block = memory.blocks[self.addresses[name]]
                assert block.size >= value.nbytes, "output buffer too small"
                block[: value.nbytes] = np.ascontiguousarray(value).reshape(-1).view(np.uint8)
            return True

    class Engine:
        def __init__(self, session):
            self.session = session
            self.io = {}
            for arg, mode in [(a, "in") for a in session.get_inputs()] + [(a, "out") for a in session.get_outputs()]:
                self.io[arg.name] = (mode, to_trt[arg.type], tuple(d if isinstance(d, int) else -1 for d in arg.shape))
            self.inputs = [a.name for a in session.get_inputs()]
            self.outputs = [a.name for a in session.get_outputs()]
            self.num_io_tensors = len(self.io)

        def get_tensor_name(self, i):
            return list(self.io)[i]

        def get_tensor_mode(self, name):
            return self.io[name][0]

        def get_tensor_dtype(self, name):
            return self.io[name][1]

        def get_tensor_shape(self, name):
            return self.io[name][2]

        def create_execution_context(self):
            return Context(self)

    class Runtime:
        def __init__(self, logger):
            self.logger = logger

        def deserialize_cuda_engine(self, data):
            if not data.startswith(b"FAKE"):
                return None
            return Engine(ort.InferenceSession(data[4:], providers=["CPUExecutionProvider"]))

    trt.Logger, trt.Runtime = Logger, Runtime
    return trt


def _fake_engine(onnx_path, version="10.99.0", capability=(9, 0)):
    engine = onnx_path.with_suffix(".engine")
    engine.write_bytes(b"FAKE" + onnx_path.read_bytes())
    write_engine_sidecar(engine, _graph_metadata(onnx_path), version, "Fake GPU", capability)
    return engine


@pytest.fixture
def fake_trt(monkeypatch):
    memory = FakeDeviceMemory()
    monkeypatch.setitem(__import__("sys").modules, "tensorrt", make_fake_tensorrt(memory))
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
def test_real_tensorrt_engine_matches_onnxruntime(tmp_path):
    trt = pytest.importorskip("tensorrt")
    from hsnet_deploy.runtime.cuda_memory import open_device_memory

    try:
        memory = open_device_memory("auto")
    except UserError as err:
        pytest.skip(f"no CUDA memory library / GPU: {err}")
    name, capability = memory.gpu()
    memory.close()
    onnx_path = make_episode_graph(tmp_path / "m.onnx", img_size=S)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse(onnx_path.read_bytes()), [parser.get_error(i) for i in range(parser.num_errors)]
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("query_img", (1, 3, S, S), (1, 3, S, S), (1, 3, S, S))
    profile.set_shape("support_imgs", (1, 1, 3, S, S), (1, 2, 3, S, S), (1, 5, 3, S, S))
    profile.set_shape("support_masks", (1, 1, S, S), (1, 2, S, S), (1, 5, S, S))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    assert serialized is not None
    engine = tmp_path / "m.engine"
    engine.write_bytes(bytes(serialized))
    write_engine_sidecar(engine, _graph_metadata(onnx_path), trt.__version__, name, capability)
    imgs, masks = _episode(3)
    with Segmenter.load(onnx_path, device="cpu") as ref, Segmenter.load(engine) as seg:
        for k in (1, 3):
            np.testing.assert_allclose(
                seg.segment_logits(imgs[0], imgs[1:k + 1], masks[1:k + 1]),
                ref.segment_logits(imgs[0], imgs[1:k + 1], masks[1:k + 1]),
                rtol=1e-4, atol=1e-4,
            )
