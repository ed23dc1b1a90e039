"""Run a serialized TensorRT engine (TensorRT 10.x and 11.x Python API).

Uses only the name-based I/O API that both versions share:

    runtime = trt.Runtime(logger); engine = runtime.deserialize_cuda_engine(bytes)
    engine.num_io_tensors, engine.get_tensor_name(i), engine.get_tensor_mode(name),
    engine.get_tensor_dtype(name), engine.get_tensor_shape(name)   (-1 = dynamic)
    context = engine.create_execution_context()
    context.set_input_shape(name, shape); context.get_tensor_shape(name)
    context.set_tensor_address(name, device_ptr); context.execute_async_v3(stream)

The engine comes from an :class:`~hsnet_deploy.runtime.loaders.EngineLoader`: a file
(whose ``X.engine.json`` sidecar is checked before TensorRT is touched: the TensorRT
version and GPU compute capability that built it must be the running ones) or the bytes a
builder just produced, with their metadata. Device buffers are allocated per tensor,
grown when a larger shape arrives, and reused; host output buffers likewise.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional, Union

import numpy as np

from ..errors import UserError
from .cuda_memory import DeviceBuffer, DeviceMemory, open_device_memory
from .graph_contract import GraphInfo, check_io_names
from .loaders import EngineLoader, import_tensorrt
from .runner import Runner, TensorSpec
from .tensor_types import from_tensorrt


class TensorRTRunner(Runner):
    """A TensorRT engine + execution context + device buffers behind the Runner interface."""

    backend = "tensorrt"

    def __init__(
        self,
        engine: Union[str, os.PathLike, bytes, EngineLoader],
        memory: str = "auto",
        check_compatibility: bool = True,
        metadata: Optional[Mapping[str, str]] = None,
    ) -> None:
        """``engine``: a loader, or a path / bytes (with ``metadata``) wrapped in one;
        ``memory``: the CUDA library for device memory (see :mod:`cuda_memory`)."""
        loader = engine if isinstance(engine, EngineLoader) else EngineLoader(engine, metadata, check_compatibility)
        super().__init__(loader.source)
        self.loader = loader
        self.memory_backend = memory
        self.info: Optional[GraphInfo] = None
        self.gpu: Optional[tuple[str, tuple[int, int]]] = None
        self._memory: Optional[DeviceMemory] = None
        self._runtime = None
        self._engine = None
        self._context = None
        self._device: dict[str, DeviceBuffer] = {}
        self._host_out: dict[str, np.ndarray] = {}
        self._bound_shapes: dict[str, tuple[int, ...]] = {}

    # ---- lifecycle -------------------------------------------------------------------
    def _activate(self) -> None:
        record = self.loader.record()  # sidecar checked before tensorrt is imported
        info = GraphInfo.from_metadata(record, self.path)
        trt = import_tensorrt()
        memory = open_device_memory(self.memory_backend)
        try:
            gpu = memory.gpu()
            runtime, engine = self.loader(trt, gpu[1])
            context = engine.create_execution_context()
            if context is None:
                raise UserError(f"TensorRT could not create an execution context for {self.path} (out of GPU memory?)")
            inputs, outputs = {}, {}
            for i in range(engine.num_io_tensors):
                name = engine.get_tensor_name(i)
                shape = tuple(None if d < 0 else int(d) for d in engine.get_tensor_shape(name))
                spec = TensorSpec(name, shape, from_tensorrt(trt, engine.get_tensor_dtype(name)))
                if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                    inputs[name] = spec
                else:
                    outputs[name] = spec
            check_io_names(info.kind, tuple(inputs), tuple(outputs), self.path)
        except BaseException:
            memory.close()
            raise
        self._runtime, self._engine, self._context = runtime, engine, context
        self._memory, self.gpu, self.info = memory, gpu, info
        self.metadata, self.inputs, self.outputs = dict(record), inputs, outputs

    def _deactivate(self) -> None:
        if self._memory is not None:
            self._memory.synchronize()
            for buffer in self._device.values():
                self._memory.free(buffer)
        self._device.clear()
        self._host_out.clear()
        self._bound_shapes.clear()
        self._context = None
        self._engine = None
        self._runtime = None
        if self._memory is not None:
            self._memory.close()
        self._memory = None

    # ---- inference -------------------------------------------------------------------
    def _buffer(self, name: str, nbytes: int) -> DeviceBuffer:
        """The device buffer for ``name``, grown to at least ``nbytes``."""
        buffer = self._device.get(name)
        if buffer is None or buffer.nbytes < nbytes:
            if buffer is not None:
                self._memory.free(buffer)
            buffer = self._memory.alloc(nbytes)
            self._device[name] = buffer
        return buffer

    def _infer(self, feed: dict[str, np.ndarray], copy_outputs: bool) -> dict[str, np.ndarray]:
        context, memory = self._context, self._memory
        for name, array in feed.items():
            if self._bound_shapes.get(name) != array.shape:
                if not context.set_input_shape(name, tuple(array.shape)):
                    raise UserError(
                        f"{self.path}: input '{name}' shape {tuple(array.shape)} is outside the "
                        "engine's optimisation profile"
                    )
                self._bound_shapes[name] = array.shape
            buffer = self._buffer(name, array.nbytes)
            memory.to_device(buffer, array)
            context.set_tensor_address(name, buffer.ptr)
        for name, spec in self.outputs.items():
            shape = tuple(int(d) for d in context.get_tensor_shape(name))
            host = self._host_out.get(name)
            if host is None or host.shape != shape:
                host = np.empty(shape, dtype=spec.dtype)
                self._host_out[name] = host
            context.set_tensor_address(name, self._buffer(name, host.nbytes).ptr)
        if not context.execute_async_v3(memory.stream_handle):
            raise RuntimeError(f"TensorRT execute_async_v3 failed for {self.path}")
        for name, host in self._host_out.items():
            memory.to_host(host, self._device[name])
        memory.synchronize()
        return {name: (host.copy() if copy_outputs else host) for name, host in self._host_out.items()}
