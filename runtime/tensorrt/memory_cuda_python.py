"""Device memory, pinned host arrays, events and CUDA graphs through NVIDIA's cuda-python
(``cuda.bindings.runtime``, or ``cuda.cudart`` before 12.6). Every call returns
``(error, *results)``; a failed call is a RuntimeError naming it.

    alloc: cudaMalloc / cudaFree                host_empty: cudaMallocHost / cudaFreeHost
    copies: cudaMemcpyAsync on a cudaStreamCreate'd stream
    events: cudaEventCreate, cudaEventRecord(event, stream), cudaEventSynchronize,
            cudaEventElapsedTime(start, end) -> ms
    graphs: cudaStreamBeginCapture(stream, ThreadLocal); cudaStreamEndCapture -> graph;
            cudaGraphInstantiate(graph, 0) -> exec; cudaGraphLaunch(exec, stream);
            cudaGraphExecDestroy / cudaGraphDestroy
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from .device_memory import DeviceBuffer, DeviceMemory, shaped


def import_cudart() -> Any:
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        from cuda import cudart  # older cuda-python
    return cudart


class CudaPythonDeviceMemory(DeviceMemory):
    name = "cuda-python"

    def __init__(self) -> None:
        self._cudart = import_cudart()
        self._stream = self._check(self._cudart.cudaStreamCreate(), "cudaStreamCreate")
        self._pinned: list[Any] = []
        self._events: list[Any] = []

    def _check(self, result: tuple, what: str) -> Any:
        err, *values = result
        if err != self._cudart.cudaError_t.cudaSuccess:
            raise RuntimeError(f"{what} failed: {err}")
        return values[0] if len(values) == 1 else (values or None)

    def alloc(self, nbytes: int) -> DeviceBuffer:
        ptr = self._check(self._cudart.cudaMalloc(max(nbytes, 1)), "cudaMalloc")
        return DeviceBuffer(int(ptr), nbytes, ptr)

    def free(self, buffer: DeviceBuffer) -> None:
        if buffer.owner is not None:
            self._check(self._cudart.cudaFree(buffer.owner), "cudaFree")
            buffer.owner = None

    def host_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        nbytes = max(int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize, 1)
        ptr = self._check(self._cudart.cudaMallocHost(nbytes), "cudaMallocHost")
        self._pinned.append(ptr)  # freed by close()
        flat = np.frombuffer(memoryview((ctypes.c_uint8 * nbytes).from_address(int(ptr))), dtype=np.uint8)
        return shaped(flat, shape, dtype)

    def to_device(self, buffer: DeviceBuffer, host: np.ndarray) -> None:
        kind = self._cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._check(
            self._cudart.cudaMemcpyAsync(buffer.ptr, host.ctypes.data, host.nbytes, kind, self._stream),
            "cudaMemcpyAsync (host to device)",
        )

    def to_host(self, host: np.ndarray, buffer: DeviceBuffer) -> None:
        kind = self._cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._check(
            self._cudart.cudaMemcpyAsync(host.ctypes.data, buffer.ptr, host.nbytes, kind, self._stream),
            "cudaMemcpyAsync (device to host)",
        )

    @property
    def stream_handle(self) -> int:
        return int(self._stream)

    def synchronize(self) -> None:
        self._check(self._cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")

    def gpu(self) -> tuple[str, tuple[int, int]]:
        device = self._check(self._cudart.cudaGetDevice(), "cudaGetDevice")
        props = self._check(self._cudart.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
        name = props.name
        name = name.split(b"\0")[0].decode() if isinstance(name, bytes) else str(name)
        return name, (int(props.major), int(props.minor))

    def event(self) -> Any:
        event = self._check(self._cudart.cudaEventCreate(), "cudaEventCreate")
        self._events.append(event)  # destroyed by close()
        return event

    def record(self, event: Any) -> None:
        self._check(self._cudart.cudaEventRecord(event, self._stream), "cudaEventRecord")

    def elapsed_ms(self, start: Any, end: Any) -> float:
        self._check(self._cudart.cudaEventSynchronize(end), "cudaEventSynchronize")
        return float(self._check(self._cudart.cudaEventElapsedTime(start, end), "cudaEventElapsedTime"))

    def begin_capture(self) -> None:
        mode = self._cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self._check(self._cudart.cudaStreamBeginCapture(self._stream, mode), "cudaStreamBeginCapture")

    def end_capture(self) -> Any:
        graph = self._check(self._cudart.cudaStreamEndCapture(self._stream), "cudaStreamEndCapture")
        executable = self._check(self._cudart.cudaGraphInstantiate(graph, 0), "cudaGraphInstantiate")
        return (graph, executable)

    def launch(self, graph: Any) -> None:
        self._check(self._cudart.cudaGraphLaunch(graph[1], self._stream), "cudaGraphLaunch")

    def free_graph(self, graph: Any) -> None:
        self._cudart.cudaGraphExecDestroy(graph[1])
        self._cudart.cudaGraphDestroy(graph[0])

    def close(self) -> None:
        for event in self._events:
            self._cudart.cudaEventDestroy(event)
        for ptr in self._pinned:
            self._cudart.cudaFreeHost(ptr)
        self._events.clear()
        self._pinned.clear()
        if self._stream is not None:
            self._cudart.cudaStreamDestroy(self._stream)
            self._stream = None
