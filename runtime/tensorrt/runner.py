"""Run a serialized TensorRT engine (TensorRT 10.x and 11.x Python API).

Uses only the name-based I/O API that both versions share:

    runtime = trt.Runtime(logger); engine = runtime.deserialize_cuda_engine(bytes)
    engine.num_io_tensors, engine.get_tensor_name(i), engine.get_tensor_mode(name),
    engine.get_tensor_dtype(name), engine.get_tensor_shape(name)   (-1 = dynamic)
    context = engine.create_execution_context()
    context.set_input_shape(name, shape); context.get_tensor_shape(name)
    context.set_tensor_address(name, device_ptr); context.execute_async_v3(stream)

One inference is three phases on one CUDA stream, each usable alone (``bench`` times
them with CUDA events, as trtexec does):

    upload    feed -> page-locked host buffers -> device (async H2D)
    execute   execute_async_v3, or the replay of a captured CUDA graph
    download  device -> page-locked host buffers (async D2H); then synchronize

Buffers (device and pinned host) are allocated per tensor, grown when a larger shape
arrives, and reused. With ``cuda_graph=True`` the enqueue is captured into a CUDA graph
the first time a set of shapes and buffers is seen (after one plain enqueue, which
TensorRT needs after a shape change) and replayed afterwards; new shapes recapture.

The engine comes from an :class:`~hsnet_deploy.runtime.loaders.EngineLoader`: a file
(whose ``X.engine.json`` sidecar is checked before TensorRT is touched) or the bytes a
builder just produced, with their metadata. Every TensorRT object is typed with the
TensorRT API's classes so mypy checks these calls against ``tensorrt-stubs``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional, Union

import numpy as np

from ...errors import UserError
from ..graph_contract import GraphInfo, check_io_names
from ..runner import Runner, TensorSpec
from ..tensor_types import from_tensorrt
from .cuda_memory import open_device_memory
from .device_memory import DeviceBuffer, DeviceMemory
from .loader import EngineLoader, import_tensorrt
from .sidecar import KEY_BUILD_MAX_SHAPES, KEY_BUILD_MIN_SHAPES

if TYPE_CHECKING:  # pragma: no cover - types only
    import tensorrt as trt


def dims_tuple(dims: "trt.Dims") -> tuple[int, ...]:
    """A ``trt.Dims`` as a tuple of ints (-1 for a dynamic dim)."""
    return tuple(int(dims[i]) for i in range(len(dims)))


@dataclass
class ActiveEngine:
    """What an active runner holds: all set together by activate, released together."""

    runtime: "trt.Runtime"
    engine: "trt.ICudaEngine"
    context: "trt.IExecutionContext"
    memory: DeviceMemory
    device: dict[str, DeviceBuffer] = field(default_factory=dict)
    host: dict[str, np.ndarray] = field(default_factory=dict)  # pinned, per I/O tensor
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # bound input shapes
    addresses: dict[str, int] = field(default_factory=dict)
    graph: Any = None  # the captured CUDA graph and what it was captured for
    graph_key: Optional[tuple] = None


class TensorRTRunner(Runner):
    """A TensorRT engine + execution context + buffers behind the Runner interface."""

    backend = "tensorrt"

    def __init__(
        self,
        engine: Union[str, os.PathLike, bytes, EngineLoader],
        memory: str = "auto",
        check_compatibility: bool = True,
        metadata: Optional[Mapping[str, str]] = None,
        cuda_graph: bool = False,
    ) -> None:
        """``engine``: a loader, or a path / bytes (with ``metadata``) wrapped in one;
        ``memory``: the CUDA library (see :mod:`cuda_memory`); ``cuda_graph``: replay
        a captured CUDA graph instead of enqueueing every layer each time."""
        loader = engine if isinstance(engine, EngineLoader) else EngineLoader(engine, metadata, check_compatibility)
        super().__init__(loader.source)
        self.loader = loader
        self.memory_backend = memory
        self.cuda_graph = bool(cuda_graph)
        self.info: Optional[GraphInfo] = None
        self.gpu: Optional[tuple[str, tuple[int, int]]] = None
        self._live: Optional[ActiveEngine] = None

    @property
    def live(self) -> ActiveEngine:
        if self._live is None:
            raise RuntimeError(f"TensorRTRunner for {self.path} is not active; call activate() first")
        return self._live

    # ---- lifecycle -------------------------------------------------------------------
    def _activate(self) -> None:
        record = self.loader.record()  # sidecar checked before tensorrt is imported
        info = GraphInfo.from_metadata(record, self.path)
        import_tensorrt()  # UserError when TensorRT is missing
        import tensorrt as trt

        memory = open_device_memory(self.memory_backend)
        try:
            gpu = memory.gpu()
            runtime, engine = self.loader(gpu[1])
            context = engine.create_execution_context()
            if context is None:
                raise UserError(f"TensorRT could not create an execution context for {self.path} (out of GPU memory?)")
            inputs, outputs = {}, {}
            for i in range(engine.num_io_tensors):
                name = engine.get_tensor_name(i)
                shape = tuple(None if d < 0 else d for d in dims_tuple(engine.get_tensor_shape(name)))
                spec = TensorSpec(name, shape, from_tensorrt(trt, engine.get_tensor_dtype(name)))
                if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                    inputs[name] = spec
                else:
                    outputs[name] = spec
            check_io_names(info.kind, tuple(inputs), tuple(outputs), self.path)
        except BaseException:
            memory.close()
            raise
        self._live = ActiveEngine(runtime, engine, context, memory)
        self.gpu, self.info = gpu, info
        self.metadata, self.inputs, self.outputs = dict(record), inputs, outputs

    def _deactivate(self) -> None:
        live, self._live = self._live, None
        if live is None:
            return
        live.memory.synchronize()
        if live.graph is not None:
            live.memory.free_graph(live.graph)
        for buffer in live.device.values():
            live.memory.free(buffer)
        live.device.clear()
        live.host.clear()
        live.memory.close()

    # ---- buffers ---------------------------------------------------------------------
    def _device_buffer(self, name: str, nbytes: int) -> DeviceBuffer:
        """The device buffer for ``name``, grown to at least ``nbytes``."""
        live = self.live
        buffer = live.device.get(name)
        if buffer is None or buffer.nbytes < nbytes:
            if buffer is not None:
                live.memory.free(buffer)
            buffer = live.memory.alloc(nbytes)
            live.device[name] = buffer
        return buffer

    def _host_buffer(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The pinned host array for ``name`` with this shape (reallocated when it changes)."""
        live = self.live
        host = live.host.get(name)
        if host is None or host.shape != shape:
            host = live.memory.host_empty(shape, dtype)
            live.host[name] = host
        return host

    def _bind(self, name: str, buffer: DeviceBuffer) -> None:
        live = self.live
        if live.addresses.get(name) != buffer.ptr:
            if not live.context.set_tensor_address(name, buffer.ptr):
                raise RuntimeError(f"TensorRT set_tensor_address failed for '{name}' in {self.path}")
            live.addresses[name] = buffer.ptr

    def _profile_error(self, name: str, shape: tuple[int, ...]) -> UserError:
        built = ""
        lo, hi = self.metadata.get(KEY_BUILD_MIN_SHAPES), self.metadata.get(KEY_BUILD_MAX_SHAPES)
        if lo and hi:
            built = f" (built for {lo} .. {hi})"
        return UserError(f"{self.path}: input '{name}' shape {shape} is outside the engine's optimisation profile{built}")

    # ---- the three phases ---------------------------------------------------------------
    def upload(self, feed: Mapping[str, np.ndarray]) -> None:
        """Set the input shapes, stage the feed in pinned memory and copy it to the device."""
        live = self.live
        for name, array in feed.items():
            shape = tuple(int(d) for d in array.shape)
            if live.shapes.get(name) != shape:
                if not live.context.set_input_shape(name, shape):
                    raise self._profile_error(name, shape)
                live.shapes[name] = shape
            host = self._host_buffer(name, shape, array.dtype)
            np.copyto(host, array)
            buffer = self._device_buffer(name, host.nbytes)
            live.memory.to_device(buffer, host)
            self._bind(name, buffer)
        for name, spec in self.outputs.items():
            shape = dims_tuple(live.context.get_tensor_shape(name))
            host = self._host_buffer(name, shape, spec.dtype)
            self._bind(name, self._device_buffer(name, host.nbytes))

    def execute(self) -> None:
        """Enqueue the engine on the stream (or replay its captured CUDA graph)."""
        live = self.live
        if not self.cuda_graph:
            self._enqueue()
            return
        key = (tuple(sorted(live.shapes.items())), tuple(sorted(live.addresses.items())))
        if live.graph is not None and live.graph_key == key:
            live.memory.launch(live.graph)
            return
        if live.graph is not None:
            live.memory.synchronize()
            live.memory.free_graph(live.graph)
            live.graph, live.graph_key = None, None
        self._enqueue()  # after a shape change TensorRT needs one enqueue before a capture
        live.memory.begin_capture()
        try:
            captured = live.context.execute_async_v3(live.memory.stream_handle)
        finally:
            graph = live.memory.end_capture()
        if not captured:
            live.memory.free_graph(graph)
            raise RuntimeError(f"TensorRT execute_async_v3 failed during CUDA graph capture for {self.path}")
        live.graph, live.graph_key = graph, key  # the enqueue above already computed this run

    def _enqueue(self) -> None:
        live = self.live
        if not live.context.execute_async_v3(live.memory.stream_handle):
            raise RuntimeError(f"TensorRT execute_async_v3 failed for {self.path}")

    def download(self) -> dict[str, np.ndarray]:
        """Copy every output to its pinned host array (async); valid after ``synchronize``."""
        live = self.live
        for name in self.outputs:
            live.memory.to_host(live.host[name], live.device[name])
        return {name: live.host[name] for name in self.outputs}

    def synchronize(self) -> None:
        self.live.memory.synchronize()

    def _infer(self, feed: dict[str, np.ndarray], copy_outputs: bool) -> dict[str, np.ndarray]:
        self.upload(feed)
        self.execute()
        outputs = self.download()
        self.synchronize()
        return {name: (host.copy() if copy_outputs else host) for name, host in outputs.items()}

    # ---- introspection (bench) ------------------------------------------------------------
    def engine_information(self) -> str:
        """The engine inspector's JSON for the current shapes (per-layer detail when the
        engine was built with ProfilingVerbosity.DETAILED, as ``build`` does)."""
        import tensorrt as trt

        live = self.live
        inspector = live.engine.create_engine_inspector()
        inspector.execution_context = live.context
        return inspector.get_engine_information(trt.LayerInformationFormat.JSON)

    def set_profiler(self, profiler: Optional["trt.IProfiler"]) -> None:
        """Attach an IProfiler (per-layer times on every enqueue) or detach it (None)."""
        if profiler is not None and self.cuda_graph:
            raise UserError("per-layer profiling needs plain enqueues; run it without CUDA graphs")
        self.live.context.profiler = profiler  # type: ignore[assignment]  # None detaches (setProfiler(nullptr))
