"""Peak memory of one piece of work, without psutil.

CPU: the process's resident-set high-water mark. On Linux ``VmHWM`` in
``/proc/self/status`` can be reset by writing ``5`` to ``/proc/self/clear_refs``, so the
peak of one episode is measured on its own: reset, run, read. Memory freed by earlier
work but kept by the C allocator would be reused without raising the RSS and hide the
episode's needs, so glibc's ``malloc_trim(0)`` first hands free memory back to the
system: every page the episode touches then shows up. Where that is not possible
(other systems, restricted /proc) the lifetime peak ``resource.getrusage(...).ru_maxrss``
is reported instead and ``scope`` says so.

CUDA: ``torch.cuda.reset_peak_memory_stats`` then ``torch.cuda.max_memory_allocated``
(what PyTorch's allocator handed out; other libraries' GPU memory is not seen).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import resource
import sys
from dataclasses import dataclass
from typing import Iterator, Optional

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"
MB = 1024.0 * 1024.0


def _status_kb(key: str) -> Optional[int]:
    try:
        with open(_STATUS) as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def current_rss_mb() -> Optional[float]:
    kb = _status_kb("VmRSS")
    return None if kb is None else kb / 1024.0


def _reset_peak_rss() -> bool:
    try:
        with open(_CLEAR_REFS, "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _release_free_heap() -> None:
    """glibc malloc_trim(0): return freed heap memory to the system (no-op elsewhere)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _lifetime_peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak / 1024.0  # bytes on macOS, KiB on Linux


@dataclass
class PeakMemory:
    """Filled in when the ``measure_peak_memory`` block exits."""

    peak_rss_mb: Optional[float] = None  # process RSS high-water mark during the block
    rss_increase_mb: Optional[float] = None  # that peak minus the RSS when the block began
    scope: str = "block"  # "block", or "process lifetime" when the peak could not be reset
    cuda_peak_allocated_mb: Optional[float] = None
    cuda_increase_mb: Optional[float] = None  # peak allocated minus allocated at the start

    def as_dict(self) -> dict:
        return {
            "peak_rss_mb": self.peak_rss_mb,
            "rss_increase_mb": self.rss_increase_mb,
            "rss_scope": self.scope,
            "cuda_peak_allocated_mb": self.cuda_peak_allocated_mb,
            "cuda_increase_mb": self.cuda_increase_mb,
        }


@contextlib.contextmanager
def measure_peak_memory(cuda_device=None) -> Iterator[PeakMemory]:
    """with measure_peak_memory(device) as mem: work()  ->  mem.peak_rss_mb etc."""
    result = PeakMemory()
    torch = None
    if cuda_device is not None:
        import torch

        torch.cuda.synchronize(cuda_device)
        torch.cuda.reset_peak_memory_stats(cuda_device)
        start_allocated = torch.cuda.memory_allocated(cuda_device)
    _release_free_heap()
    start_rss = current_rss_mb()
    resettable = start_rss is not None and _reset_peak_rss()
    yield result
    if torch is not None:
        torch.cuda.synchronize(cuda_device)
        peak = torch.cuda.max_memory_allocated(cuda_device)
        result.cuda_peak_allocated_mb = peak / MB
        result.cuda_increase_mb = (peak - start_allocated) / MB
    hwm = _status_kb("VmHWM") if resettable else None
    if hwm is not None:
        result.peak_rss_mb = hwm / 1024.0
        result.rss_increase_mb = max(0.0, result.peak_rss_mb - start_rss)
    else:
        result.peak_rss_mb = _lifetime_peak_rss_mb()
        result.scope = "process lifetime"
