"""Device memory, pinned host arrays and events through pycuda (``pycuda.driver``).

    context: cuda.init(); Device(0).retain_primary_context().push()  (the context the
             CUDA runtime, and so TensorRT, uses); pop() + detach() on close
    alloc: mem_alloc(n) (int() is the device pointer)   host_empty: pagelocked_empty
    copies: memcpy_htod_async / memcpy_dtoh_async on a pycuda Stream
    events: Event().record(stream), end.time_since(start) -> ms

pycuda (2026.1) exposes no stream capture, so CUDA graphs are refused with a clear line
(the base class's ``begin_capture``); every other part of the runner works.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .device_memory import DeviceBuffer, DeviceMemory


class PycudaDeviceMemory(DeviceMemory):
    name = "pycuda"

    def __init__(self) -> None:
        import pycuda.driver as cuda

        cuda.init()
        self._cuda = cuda
        self._device = cuda.Device(0)
        self._context = self._device.retain_primary_context()
        self._context.push()
        self._stream = cuda.Stream()

    def alloc(self, nbytes: int) -> DeviceBuffer:
        allocation = self._cuda.mem_alloc(max(nbytes, 1))
        return DeviceBuffer(int(allocation), nbytes, allocation)

    def free(self, buffer: DeviceBuffer) -> None:
        if buffer.owner is not None:
            buffer.owner.free()
            buffer.owner = None

    def host_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return self._cuda.pagelocked_empty(tuple(shape), np.dtype(dtype))

    def to_device(self, buffer: DeviceBuffer, host: np.ndarray) -> None:
        self._cuda.memcpy_htod_async(buffer.ptr, host, self._stream)

    def to_host(self, host: np.ndarray, buffer: DeviceBuffer) -> None:
        self._cuda.memcpy_dtoh_async(host, buffer.ptr, self._stream)

    @property
    def stream_handle(self) -> int:
        return int(self._stream.handle)

    def synchronize(self) -> None:
        self._stream.synchronize()

    def gpu(self) -> tuple[str, tuple[int, int]]:
        major, minor = self._device.compute_capability()
        return str(self._device.name()), (int(major), int(minor))

    def event(self) -> Any:
        return self._cuda.Event()

    def record(self, event: Any) -> None:
        event.record(self._stream)

    def elapsed_ms(self, start: Any, end: Any) -> float:
        end.synchronize()
        return float(end.time_since(start))

    def close(self) -> None:
        if self._context is not None:
            self._context.pop()
            self._context.detach()
            self._context = None
