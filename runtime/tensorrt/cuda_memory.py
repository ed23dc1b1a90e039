"""Which CUDA library backs the TensorRT runner's memory: ``open_device_memory(name)``.

Two are supported, each imported only when chosen (``--memory``):

- ``cuda-python``: NVIDIA's own bindings (``cuda.bindings.runtime``, 12.x and 13.x),
  with stream capture, so ``--cuda-graph`` works;
- ``pycuda``: on the design card and common on Jetson; it has no stream-capture API, so
  ``--cuda-graph`` with it is refused in one line.

``auto`` tries them in that order. PyTorch's and CuPy's allocators were dropped: the
engine path is the torch-free runtime (PyTorch's CUDA build is several GB on a Jetson
that needs none of it), and CuPy added nothing the two above lack.
"""

from __future__ import annotations

from ...errors import UserError
from .device_memory import DeviceMemory

BACKENDS = ("auto", "cuda-python", "pycuda")


def _backend_class(name: str) -> type:
    if name == "cuda-python":
        from .memory_cuda_python import CudaPythonDeviceMemory

        return CudaPythonDeviceMemory
    from .memory_pycuda import PycudaDeviceMemory

    return PycudaDeviceMemory


def open_device_memory(backend: str = "auto") -> DeviceMemory:
    """The requested CUDA library's DeviceMemory, or the first that works for "auto"."""
    if backend not in BACKENDS:
        raise UserError(f"unknown CUDA memory backend '{backend}' (expected one of {', '.join(BACKENDS)})")
    names = list(BACKENDS[1:]) if backend == "auto" else [backend]
    reasons = []
    for name in names:
        try:
            memory: DeviceMemory = _backend_class(name)()
            return memory
        except ImportError:
            reasons.append(f"{name}: not installed")
        except UserError as err:
            reasons.append(f"{name}: {err}")
        except Exception as err:  # a library present but unable to reach a GPU
            reasons.append(f"{name}: {type(err).__name__}: {err}")
    raise UserError(
        "the TensorRT runner needs a CUDA library for device memory "
        f"(cuda-python or pycuda); none usable ({'; '.join(reasons)})"
    )
