"""Device memory, pinned host arrays, events and CUDA graphs through CuPy.

    alloc: cupy.empty(n, uint8)          host_empty: cupy.cuda.alloc_pinned_memory(n)
    copies: ndarray.set / get(stream=...) on a non-blocking cupy.cuda.Stream
    events: cupy.cuda.Event().record(stream), cupy.cuda.get_elapsed_time(start, end)
    graphs: stream.begin_capture(); graph = stream.end_capture(); graph.launch(stream)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .cuda_memory import DeviceBuffer, DeviceMemory, bytes_of, shaped


class CupyDeviceMemory(DeviceMemory):
    name = "cupy"

    def __init__(self) -> None:
        import cupy

        self._cupy = cupy
        self._stream = cupy.cuda.Stream(non_blocking=True)

    def alloc(self, nbytes: int) -> DeviceBuffer:
        array = self._cupy.empty(max(nbytes, 1), dtype=self._cupy.uint8)
        return DeviceBuffer(int(array.data.ptr), nbytes, array)

    def free(self, buffer: DeviceBuffer) -> None:
        buffer.owner = None

    def host_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        nbytes = max(int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize, 1)
        pinned = self._cupy.cuda.alloc_pinned_memory(nbytes)
        flat = np.frombuffer(pinned, dtype=np.uint8, count=nbytes)  # holds `pinned`
        return shaped(flat, shape, dtype)

    def to_device(self, buffer: DeviceBuffer, host: np.ndarray) -> None:
        src = bytes_of(host)
        buffer.owner[: src.size].set(src, stream=self._stream)

    def to_host(self, host: np.ndarray, buffer: DeviceBuffer) -> None:
        dst = bytes_of(host)
        buffer.owner[: dst.size].get(stream=self._stream, out=dst)

    @property
    def stream_handle(self) -> int:
        return int(self._stream.ptr)

    def synchronize(self) -> None:
        self._stream.synchronize()

    def gpu(self) -> tuple[str, tuple[int, int]]:
        device = self._cupy.cuda.Device()
        props = self._cupy.cuda.runtime.getDeviceProperties(device.id)
        name = props["name"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        return name, (int(props["major"]), int(props["minor"]))

    def event(self) -> Any:
        return self._cupy.cuda.Event()

    def record(self, event: Any) -> None:
        event.record(self._stream)

    def elapsed_ms(self, start: Any, end: Any) -> float:
        end.synchronize()
        return float(self._cupy.cuda.get_elapsed_time(start, end))

    def begin_capture(self) -> None:
        self._stream.begin_capture()

    def end_capture(self) -> Any:
        return self._stream.end_capture()

    def launch(self, graph: Any) -> None:
        graph.launch(self._stream)
