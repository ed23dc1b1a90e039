"""An in-process stand-in for the ``tensorrt`` module: the slice of TensorRT's Python API
(10.x and 11.x) that the builder, the runner, the sidecar step and the engine bench call,
with the same class, method and parameter names as TensorRT 10.13's (test_tensorrt_typing
checks every name here against ``tensorrt-stubs``).

The "plan" a stand-in build produces is ``FAKE`` + a JSON header (the optimisation
profile, the layers) + the ONNX bytes; deserializing it gives an engine run by
onnxruntime that reads and writes a :class:`FakeDeviceMemory`. So a test can build with
the real builder code and run the result with the real runner code.
"""

from __future__ import annotations

import itertools
import json
import types

import numpy as np
from hsnet_deploy.runtime.tensorrt.device_memory import DeviceBuffer, DeviceMemory

MAGIC = b"FAKE"
TIMING_CACHE = b"TCACHE:"


class FakeDeviceMemory(DeviceMemory):
    """'Device' memory in host arrays, addressed by integer pointers like CUDA's; stream
    capture records the enqueues and a launch replays them."""

    name = "fake"
    STREAM = 0xC0FFEE

    def __init__(self):
        self.blocks: dict[int, np.ndarray] = {}
        self._next = itertools.count(0x1000, 0x1000)
        self.synchronized = 0
        self.pinned = 0
        self.capturing: list | None = None
        self.captures = 0
        self.launches = 0
        self.clock = 0.0

    def alloc(self, nbytes):
        ptr = next(self._next)
        self.blocks[ptr] = np.zeros(max(nbytes, 1), np.uint8)
        return DeviceBuffer(ptr, nbytes, self.blocks[ptr])

    def free(self, buffer):
        del self.blocks[buffer.ptr]

    def host_empty(self, shape, dtype):
        self.pinned += 1
        return np.empty(shape, dtype)

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

    def event(self):
        return {"t": None}

    def record(self, event):
        self.clock += 0.25  # every phase "takes" 0.25 ms on the fake stream
        event["t"] = self.clock

    def elapsed_ms(self, start, end):
        return end["t"] - start["t"]

    def begin_capture(self):
        self.capturing = []

    def end_capture(self):
        graph, self.capturing = self.capturing, None
        self.captures += 1
        return graph

    def launch(self, graph):
        self.launches += 1
        for work in graph:
            work()


def make_fake_tensorrt(device: FakeDeviceMemory, version: str = "10.13.0", dla_cores: int = 0, unsupported_ops=(), fail_build=False):
    """A module standing in for ``tensorrt`` ``version`` (10.x or 11.x)."""
    import onnx
    import onnxruntime as ort

    major = int(version.split(".")[0])
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.DataType = types.SimpleNamespace(FLOAT="f32", HALF="f16", UINT8="u8", INT32="i32", INT64="i64", INT8="i8", BOOL="b")
    trt.TensorIOMode = types.SimpleNamespace(INPUT="in", OUTPUT="out")
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(STRONGLY_TYPED=1)
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="workspace")
    trt.ProfilingVerbosity = types.SimpleNamespace(DETAILED="detailed", LAYER_NAMES_ONLY="names")
    trt.DeviceType = types.SimpleNamespace(GPU="gpu", DLA="dla")
    trt.LayerInformationFormat = types.SimpleNamespace(JSON="json", ONELINE="oneline")
    flags = {"GPU_FALLBACK": "gpu_fallback"}
    if major < 11:  # removed in 11 (migration guide): the weak-typing precision flags
        flags.update(FP16="fp16", INT8="int8")
    trt.BuilderFlag = types.SimpleNamespace(**flags)
    to_trt = {"tensor(float)": "f32", "tensor(uint8)": "u8", "tensor(float16)": "f16"}
    to_np = {"f32": np.float32, "u8": np.uint8}
    log = {"builds": [], "networks": [], "configs": []}
    trt.standin_log = log  # what the tests inspect (not a TensorRT name)

    class Logger:
        WARNING = 2

        def __init__(self, min_severity=2):
            self.min_severity = min_severity

    class Dims(tuple):
        def __new__(cls, shape=()):
            return super().__new__(cls, tuple(int(d) for d in shape))

    class IProgressMonitor:
        def __init__(self):
            pass

    class IProfiler:
        def __init__(self):
            pass

    class ITensor:
        def __init__(self, name):
            self.name = name

    class ParserError:
        def __init__(self, node, name, op, desc):
            self._node, self._name, self._op, self._desc = node, name, op, desc

        def node(self):
            return self._node

        def node_name(self):
            return self._name

        def node_operator(self):
            return self._op

        def desc(self):
            return self._desc

    class INetworkDefinition:
        def __init__(self, flags):
            self.flags, self.onnx, self.inputs = flags, None, []

        @property
        def num_inputs(self):
            return len(self.inputs)

        def get_input(self, index):
            return ITensor(self.inputs[index])

    class OnnxParser:
        def __init__(self, network, logger):
            self.network, self.errors = network, []

        def parse_from_file(self, model):
            proto = onnx.load(model)
            for i, node in enumerate(proto.graph.node):
                if node.op_type in unsupported_ops:
                    self.errors.append(ParserError(i, node.name, node.op_type, f"no importer for {node.op_type}"))
            self.network.onnx = proto
            self.network.inputs = [v.name for v in proto.graph.input]
            return not self.errors

        @property
        def num_errors(self):
            return len(self.errors)

        def get_error(self, index):
            return self.errors[index]

    class IOptimizationProfile:
        def __init__(self):
            self.shapes = {}

        def set_shape(self, input, min, opt, max):
            self.shapes[input] = [list(min), list(opt), list(max)]

    class ITimingCache:
        def __init__(self, entries):
            self.entries = list(entries)

        def serialize(self):
            return TIMING_CACHE + json.dumps(self.entries).encode()

    class IBuilderConfig:
        def __init__(self):
            self.profiles, self.pools, self.flags = [], {}, set()
            self.builder_optimization_level = 3
            self.profiling_verbosity = trt.ProfilingVerbosity.LAYER_NAMES_ONLY
            self.default_device_type = trt.DeviceType.GPU
            self.DLA_core = -1
            self.progress_monitor = None
            self.cache = None

        def add_optimization_profile(self, profile):
            self.profiles.append(profile)
            return len(self.profiles) - 1

        def set_memory_pool_limit(self, pool, pool_size):
            self.pools[pool] = pool_size

        def set_flag(self, flag):
            self.flags.add(flag)

        def create_timing_cache(self, serialized_timing_cache):
            data = bytes(serialized_timing_cache)
            if data and not data.startswith(TIMING_CACHE):
                return None
            return ITimingCache(json.loads(data[len(TIMING_CACHE):]) if data else [])

        def set_timing_cache(self, cache, ignore_mismatch):
            if "other-gpu" in cache.entries and not ignore_mismatch:
                return False
            self.cache = cache
            return True

        def get_timing_cache(self):
            return self.cache

    class Builder:
        def __init__(self, logger):
            self.logger, self.num_DLA_cores = logger, dla_cores

        def create_network(self, flags=0):
            network = INetworkDefinition(flags)
            log["networks"].append(network)
            return network

        def create_builder_config(self):
            config = IBuilderConfig()
            log["configs"].append(config)
            return config

        def create_optimization_profile(self):
            return IOptimizationProfile()

        def build_serialized_network(self, network, config):
            monitor = config.progress_monitor
            if monitor is not None:
                monitor.phase_start("Building engine", None, 2)
                monitor.phase_start("Tactic timing", "Building engine", 3)
                for step in range(3):
                    monitor.step_complete("Tactic timing", step)
                monitor.phase_finish("Tactic timing")
                for step in range(2):
                    monitor.step_complete("Building engine", step)
                monitor.phase_finish("Building engine")
            if fail_build:
                return None
            if config.cache is not None:
                reused = network.onnx.graph.name in config.cache.entries
                config.cache.entries.append(network.onnx.graph.name)
                log["builds"].append({"reused_timing": reused})
            else:
                log["builds"].append({"reused_timing": False})
            layers = [
                {"Name": node.name or f"{node.op_type}_{i}", "LayerType": node.op_type,
                 "Outputs": [{"Name": o, "Format/Datatype": "Row major linear FP32"} for o in node.output]}
                for i, node in enumerate(network.onnx.graph.node)
            ]
            header = json.dumps({"profile": config.profiles[0].shapes, "layers": layers}).encode()
            return MAGIC + len(header).to_bytes(4, "little") + header + network.onnx.SerializeToString()

    class IExecutionContext:
        def __init__(self, engine):
            self.engine, self.shapes, self.addresses, self.profiler = engine, {}, {}, None

        def set_input_shape(self, name, shape):
            spec = self.engine.io[name]
            lo, _, hi = self.engine.profile.get(name, [spec[2], spec[2], spec[2]])
            if len(shape) != len(spec[2]) or any(d not in (-1, s) for d, s in zip(spec[2], shape)):
                return False
            if any(not (a <= s <= b) for a, s, b in zip(lo, shape, hi) if a >= 0):
                return False
            self.shapes[name] = tuple(shape)
            return True

        def _outputs_for_shapes(self):
            feed = {n: np.zeros(s, to_np[self.engine.io[n][1]]) for n, s in self.shapes.items()}
            return dict(zip(self.engine.outputs, self.engine.session.run(self.engine.outputs, feed)))

        def get_tensor_shape(self, name):
            if name in self.shapes:
                return Dims(self.shapes[name])
            assert set(self.shapes) == set(self.engine.inputs), "output shape asked before all input shapes"
            return Dims(self._outputs_for_shapes()[name].shape)

        def set_tensor_address(self, name, memory):
            assert memory in device.blocks, "address is not a live device allocation"
            self.addresses[name] = memory
            return True

        def _run(self):
            feed = {}
            for name in self.engine.inputs:
                dtype = np.dtype(to_np[self.engine.io[name][1]])
                n = int(np.prod(self.shapes[name])) * dtype.itemsize
                feed[name] = device.blocks[self.addresses[name]][:n].view(dtype).reshape(self.shapes[name])
            for name, value in zip(self.engine.outputs, self.engine.session.run(self.engine.outputs, feed)):
                block = device.blocks[self.addresses[name]]
                assert block.size >= value.nbytes, "output buffer too small"
                block[: value.nbytes] = np.ascontiguousarray(value).reshape(-1).view(np.uint8)
            if self.profiler is not None:
                for i, layer in enumerate(self.engine.layers):
                    self.profiler.report_layer_time(layer["Name"], 0.1 * (i + 1))

        def execute_async_v3(self, stream_handle):
            assert stream_handle == device.STREAM
            assert set(self.addresses) == set(self.engine.io), "every I/O tensor needs an address"
            if device.capturing is not None:
                device.capturing.append(self._run)  # captured, not run
            else:
                self._run()
            return True

    class EngineInspector:
        def __init__(self, engine):
            self.engine, self.execution_context = engine, None

        def get_engine_information(self, format):
            return json.dumps({"Layers": self.engine.layers, "Bindings": list(self.engine.io)})

    class ICudaEngine:
        def __init__(self, session, profile, layers):
            self.session, self.profile, self.layers = session, profile, layers
            self.io = {}
            for arg, mode in [(a, "in") for a in session.get_inputs()] + [(a, "out") for a in session.get_outputs()]:
                self.io[arg.name] = (mode, to_trt[arg.type], tuple(d if isinstance(d, int) else -1 for d in arg.shape))
            self.inputs = [a.name for a in session.get_inputs()]
            self.outputs = [a.name for a in session.get_outputs()]

        @property
        def num_io_tensors(self):
            return len(self.io)

        def get_tensor_name(self, index):
            return list(self.io)[index]

        def get_tensor_mode(self, name):
            return self.io[name][0]

        def get_tensor_dtype(self, name):
            return self.io[name][1]

        def get_tensor_shape(self, name):
            return Dims(self.io[name][2])

        def get_tensor_profile_shape(self, name, profile_index):
            return [Dims(s) for s in self.profile[name]]

        def create_execution_context(self):
            return IExecutionContext(self)

        def create_engine_inspector(self):
            return EngineInspector(self)

    class Runtime:
        def __init__(self, logger):
            self.logger = logger

        def deserialize_cuda_engine(self, serialized_engine):
            data = bytes(serialized_engine)
            if not data.startswith(MAGIC):
                return None
            size = int.from_bytes(data[4:8], "little")
            header = json.loads(data[8 : 8 + size])
            session = ort.InferenceSession(data[8 + size :], providers=["CPUExecutionProvider"])
            return ICudaEngine(session, header["profile"], header["layers"])

    for cls in (Logger, Dims, IProgressMonitor, IProfiler, ITensor, ParserError, INetworkDefinition, OnnxParser,
                IOptimizationProfile, ITimingCache, IBuilderConfig, Builder, IExecutionContext, EngineInspector,
                ICudaEngine, Runtime):
        setattr(trt, cls.__name__, cls)
    return trt


def fake_plan(onnx_path, profile=None) -> bytes:
    """A stand-in plan for an ONNX file without going through the builder."""
    import onnx

    proto = onnx.load(str(onnx_path))
    header = json.dumps({"profile": profile or {}, "layers": []}).encode()
    return MAGIC + len(header).to_bytes(4, "little") + header + proto.SerializeToString()


def install(monkeypatch, memory=None, **kwargs):
    """Put a stand-in ``tensorrt`` and a FakeDeviceMemory in place for the builder, the
    sidecar step and the runner; returns (module, memory)."""
    import sys

    from hsnet_deploy.runtime.tensorrt import cuda_memory
    from hsnet_deploy.runtime.tensorrt import runner as tensorrt_runner

    memory = memory or FakeDeviceMemory()
    trt = make_fake_tensorrt(memory, **kwargs)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr(tensorrt_runner, "open_device_memory", lambda backend="auto": memory)
    monkeypatch.setattr(cuda_memory, "open_device_memory", lambda backend="auto": memory)
    return trt, memory
