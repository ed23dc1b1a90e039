"""Device memory, copies and one CUDA stream for the TensorRT runner, from whichever
CUDA library is installed: PyTorch (CUDA build), CuPy, or cuda-python (tried in that
order by ``open_device_memory("auto")``). Each is imported only when chosen.

Interface (``DeviceMemory``):

    alloc(nbytes) -> DeviceBuffer(ptr, nbytes)     raw device allocation (freed on release)
    to_device(buffer, host_array)                  async H2D on the stream
    to_host(host_array, buffer)                    async D2H on the stream
    stream_handle -> int                           cudaStream_t, for execute_async_v3
    synchronize()                                  wait for the stream
    gpu() -> (name, (major, minor))                current device and compute capability
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UserError

BACKENDS = ("auto", "torch", "cupy", "cuda-python")


@dataclass
class DeviceBuffer:
    ptr: int
    nbytes: int
    owner: Any = None  # the library object that keeps the allocation alive


def _bytes_of(host: np.ndarray) -> np.ndarray:
    """A C-contiguous array viewed as flat uint8 (shares memory)."""
    if not host.flags.c_contiguous:
        raise ValueError("host array must be C-contiguous")
    return host.reshape(-1).view(np.uint8)


class DeviceMemory(abc.ABC):
    name = "abstract"

    @abc.abstractmethod
    def alloc(self, nbytes: int) -> DeviceBuffer: ...

    @abc.abstractmethod
    def free(self, buffer: DeviceBuffer) -> None: ...

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

    def close(self) -> None:
        """Release the stream (buffers are freed by their owner)."""


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

    def to_device(self, buffer: DeviceBuffer, host: np.ndarray) -> None:
        src = self._torch.from_numpy(_bytes_of(host))
        with self._torch.cuda.stream(self._stream):
            buffer.owner[: src.numel()].copy_(src, non_blocking=True)

    def to_host(self, host: np.ndarray, buffer: DeviceBuffer) -> None:
        dst = self._torch.from_numpy(_bytes_of(host))
        with self._torch.cuda.stream(self._stream):
            dst.copy_(buffer.owner[: dst.numel()], non_blocking=True)

    @property
    def stream_handle(self) -> int:
        return int(self._stream.cuda_stream)

    def synchronize(self) -> None:
        self._stream.synchronize()

    def gpu(self) -> tuple[str, tuple[int, int]]:
        index = self._torch.cuda.current_device()
        return self._torch.cuda.get_device_name(index), tuple(self._torch.cuda.get_device_capability(index))


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

    def to_device(self, buffer: DeviceBuffer, host: np.ndarray) -> None:
        src = _bytes_of(host)
        buffer.owner[: src.size].set(src, stream=self._stream)

    def to_host(self, host: np.ndarray, buffer: DeviceBuffer) -> None:
        dst = _bytes_of(host)
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


class CudaPythonDeviceMemory(DeviceMemory):
    """NVIDIA's cuda-python bindings: every call returns (error, *results)."""

    name = "cuda-python"

    def __init__(self) -> None:
        try:
            from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
        except ImportError:
            from cuda import cudart  # older cuda-python
        self._cudart = cudart
        self._stream = self._check(cudart.cudaStreamCreate(), "cudaStreamCreate")

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

    def close(self) -> None:
        if self._stream is not None:
            self._cudart.cudaStreamDestroy(self._stream)
            self._stream = None


_CLASSES = {"torch": TorchDeviceMemory, "cupy": CupyDeviceMemory, "cuda-python": CudaPythonDeviceMemory}


def open_device_memory(backend: str = "auto") -> DeviceMemory:
    """The requested CUDA library's DeviceMemory, or the first that works for "auto"."""
    if backend not in BACKENDS:
        raise UserError(f"unknown CUDA memory backend '{backend}' (expected one of {', '.join(BACKENDS)})")
    names = list(_CLASSES) if backend == "auto" else [backend]
    reasons = []
    for name in names:
        try:
            return _CLASSES[name]()
        except ImportError:
            reasons.append(f"{name}: not installed")
        except UserError as err:
            reasons.append(f"{name}: {err}")
        except Exception as err:  # a library present but unable to reach a GPU
            reasons.append(f"{name}: {type(err).__name__}: {err}")
    raise UserError(
        "the TensorRT runner needs a CUDA library for device memory "
        f"(PyTorch with CUDA, CuPy or cuda-python); none usable ({'; '.join(reasons)})"
    )
