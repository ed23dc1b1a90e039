"""Device memory, pinned host arrays, events and CUDA graphs through PyTorch's CUDA build.

    alloc: torch.empty(n, uint8, device="cuda")        host_empty: torch.empty(..., pin_memory=True)
    copies: Tensor.copy_(non_blocking=True) on our torch.cuda.Stream
    events: torch.cuda.Event(enable_timing=True).record(stream), start.elapsed_time(end)
    graphs: torch.cuda.CUDAGraph().capture_begin() / capture_end() with our stream
            current (TensorRT enqueues on the same raw stream), replay() on it
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UserError
from .cuda_memory import DeviceBuffer, DeviceMemory, bytes_of, shaped


class TorchDeviceMemory(DeviceMemory):
    name = "torch"

    def __init__(self) -> None:
        import torch

        if not torch.cuda.is_available():
            raise UserError("PyTorch is installed but sees no CUDA device")
        self._torch = torch
        self._stream = torch.cuda.Stream()

    def alloc(self, nbytes: int) -> DeviceBuffer:
        tensor = self._torch.empty(max(nbytes, 1), dtype=self._torch.uint8, device="cuda")
        return DeviceBuffer(tensor.data_ptr(), nbytes, tensor)

    def free(self, buffer: DeviceBuffer) -> None:
        buffer.owner = None

    def host_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        nbytes = max(int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize, 1)
        flat = self._torch.empty(nbytes, dtype=self._torch.uint8, pin_memory=True).numpy()  # keeps the tensor alive
        return shaped(flat, shape, dtype)

    def to_device(self, buffer: DeviceBuffer, host: np.ndarray) -> None:
        src = self._torch.from_numpy(bytes_of(host))
        with self._torch.cuda.stream(self._stream):
            buffer.owner[: src.numel()].copy_(src, non_blocking=True)

    def to_host(self, host: np.ndarray, buffer: DeviceBuffer) -> None:
        dst = self._torch.from_numpy(bytes_of(host))
        with self._torch.cuda.stream(self._stream):
            dst.copy_(buffer.owner[: dst.numel()], non_blocking=True)

    @property
    def stream_handle(self) -> int:
        return int(self._stream.cuda_stream)

    def synchronize(self) -> None:
        self._stream.synchronize()

    def gpu(self) -> tuple[str, tuple[int, int]]:
        index = self._torch.cuda.current_device()
        major, minor = self._torch.cuda.get_device_capability(index)
        return self._torch.cuda.get_device_name(index), (int(major), int(minor))

    def event(self) -> Any:
        return self._torch.cuda.Event(enable_timing=True)

    def record(self, event: Any) -> None:
        event.record(self._stream)

    def elapsed_ms(self, start: Any, end: Any) -> float:
        end.synchronize()
        return float(start.elapsed_time(end))

    def begin_capture(self) -> None:
        self._graph: Any = self._torch.cuda.CUDAGraph()
        with self._torch.cuda.stream(self._stream):
            self._graph.capture_begin()

    def end_capture(self) -> Any:
        with self._torch.cuda.stream(self._stream):
            self._graph.capture_end()
        graph, self._graph = self._graph, None
        return graph

    def launch(self, graph: Any) -> None:
        with self._torch.cuda.stream(self._stream):
            graph.replay()
