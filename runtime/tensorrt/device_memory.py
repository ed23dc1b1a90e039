"""What the TensorRT runner needs from a CUDA library: device memory, page-locked host
memory, one CUDA stream, events and CUDA graphs. :mod:`cuda_memory` picks the library
(cuda-python or pycuda); each implements this interface in its own ``memory_*`` module.

Interface (``DeviceMemory``):

    alloc(nbytes) -> DeviceBuffer(ptr, nbytes)     raw device allocation; free(buffer)
    host_empty(shape, dtype) -> np.ndarray         page-locked ("pinned") host array, so
                                                   copies are true DMA and truly async
    to_device(buffer, host_array)                  async H2D on the stream
    to_host(host_array, buffer)                    async D2H on the stream
    stream_handle -> int                           cudaStream_t, for execute_async_v3
    synchronize()                                  wait for the stream
    gpu() -> (name, (major, minor))                current device and compute capability
    event(); record(event); elapsed_ms(a, b)       CUDA events on the stream (timing)
    begin_capture(); end_capture() -> graph        stream capture into a CUDA graph
    launch(graph); free_graph(graph)               replay it on the stream
    close()                                        release the stream and pinned memory
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import UserError


@dataclass
class DeviceBuffer:
    ptr: int
    nbytes: int
    owner: Any = None  # the library object that keeps the allocation alive


def bytes_of(host: np.ndarray) -> np.ndarray:
    """A C-contiguous array viewed as flat uint8 (shares memory)."""
    if not host.flags.c_contiguous:
        raise ValueError("host array must be C-contiguous")
    return host.reshape(-1).view(np.uint8)


def shaped(flat: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The first bytes of a flat uint8 array as an array of ``shape`` and ``dtype``."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    return flat[: count * dtype.itemsize].view(dtype).reshape(shape)


class DeviceMemory(abc.ABC):
    name = "abstract"

    @abc.abstractmethod
    def alloc(self, nbytes: int) -> DeviceBuffer: ...

    @abc.abstractmethod
    def free(self, buffer: DeviceBuffer) -> None: ...

    @abc.abstractmethod
    def host_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray: ...

    @abc.abstractmethod
    def to_device(self, buffer: DeviceBuffer, host: np.ndarray) -> None: ...

    @abc.abstractmethod
    def to_host(self, host: np.ndarray, buffer: DeviceBuffer) -> None: ...

    @property
    @abc.abstractmethod
    def stream_handle(self) -> int: ...

    @abc.abstractmethod
    def synchronize(self) -> None: ...

    @abc.abstractmethod
    def gpu(self) -> tuple[str, tuple[int, int]]: ...

    @abc.abstractmethod
    def event(self) -> Any: ...

    @abc.abstractmethod
    def record(self, event: Any) -> None: ...

    @abc.abstractmethod
    def elapsed_ms(self, start: Any, end: Any) -> float:
        """Milliseconds between two recorded events (after they completed)."""

    def begin_capture(self) -> None:
        raise UserError(f"the {self.name} CUDA library offers no CUDA graph capture; use --memory cuda-python")

    def end_capture(self) -> Any:  # pragma: no cover - only after begin_capture
        raise UserError(f"the {self.name} CUDA library offers no CUDA graph capture")

    def launch(self, graph: Any) -> None:  # pragma: no cover - only after end_capture
        raise UserError(f"the {self.name} CUDA library offers no CUDA graph capture")

    def free_graph(self, graph: Any) -> None:
        """Release a captured graph (garbage collection suffices for most libraries)."""

    def close(self) -> None:
        """Release the stream (buffers are freed by their owner)."""
