"""The cuda-python and pycuda memory backends against stand-ins of the calls they make
(cuda.bindings.runtime: every call returns (error, *results); pycuda.driver: objects),
with host memory as the 'device': allocation, pinned arrays, copies both ways, events,
stream capture where the library has it, and the cleanup on close. These libraries
cannot run here (no GPU); the stand-ins use the names of their documented APIs."""

from __future__ import annotations

import ctypes
import sys
import types

import numpy as np
import pytest
from hsnet_deploy.errors import UserError


def _fake_cudart(log):
    """cuda.bindings.runtime: raw pointers are ctypes buffers kept in ``log["mem"]``."""
    rt = types.ModuleType("cuda.bindings.runtime")
    ok = "cudaSuccess"
    rt.cudaError_t = types.SimpleNamespace(cudaSuccess=ok)
    rt.cudaMemcpyKind = types.SimpleNamespace(cudaMemcpyHostToDevice="h2d", cudaMemcpyDeviceToHost="d2h")
    rt.cudaStreamCaptureMode = types.SimpleNamespace(cudaStreamCaptureModeThreadLocal="thread-local")

    def malloc(size):
        buf = ctypes.create_string_buffer(size)
        log["mem"][ctypes.addressof(buf)] = buf
        return ok, ctypes.addressof(buf)

    def memcpy(dst, src, count, kind, stream):
        log["copies"].append(kind)
        ctypes.memmove(dst, src, count)
        return (ok,)

    rt.cudaStreamCreate = lambda: (ok, 77)
    rt.cudaMalloc = malloc
    rt.cudaMallocHost = malloc
    rt.cudaFree = lambda ptr: (log["freed"].append(ptr), (ok,))[1]
    rt.cudaFreeHost = lambda ptr: (log["freed_host"].append(ptr), (ok,))[1]
    rt.cudaMemcpyAsync = memcpy
    rt.cudaStreamSynchronize = lambda s: (ok,)
    rt.cudaGetDevice = lambda: (ok, 0)
    rt.cudaGetDeviceProperties = lambda d: (ok, types.SimpleNamespace(name=b"Fake GPU\0\0", major=8, minor=7))
    rt.cudaEventCreate = lambda: (ok, object())
    rt.cudaEventRecord = lambda event, stream: (log["records"].append(event), (ok,))[1]
    rt.cudaEventSynchronize = lambda event: (ok,)
    rt.cudaEventElapsedTime = lambda a, b: (ok, 1.5)
    rt.cudaEventDestroy = lambda e: log["destroyed"].append("event")
    rt.cudaStreamBeginCapture = lambda s, mode: (log["capture"].append(("begin", s, mode)), (ok,))[1]
    rt.cudaStreamEndCapture = lambda s: (ok, "graph")
    rt.cudaGraphInstantiate = lambda graph, flags: (ok, ("exec", graph, flags))
    rt.cudaGraphLaunch = lambda exe, s: (log["capture"].append(("launch", exe, s)), (ok,))[1]
    rt.cudaGraphExecDestroy = lambda exe: log["destroyed"].append("exec")
    rt.cudaGraphDestroy = lambda graph: log["destroyed"].append("graph")
    rt.cudaStreamDestroy = lambda s: log["destroyed"].append("stream")
    return rt


def test_cuda_python_backend(monkeypatch):
    log = {"mem": {}, "copies": [], "freed": [], "freed_host": [], "records": [], "destroyed": [], "capture": []}
    rt = _fake_cudart(log)
    bindings = types.ModuleType("cuda.bindings")
    bindings.runtime = rt
    cuda = types.ModuleType("cuda")
    cuda.bindings = bindings
    monkeypatch.setitem(sys.modules, "cuda", cuda)
    monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", rt)
    from hsnet_deploy.runtime.tensorrt.cuda_memory import open_device_memory

    memory = open_device_memory("cuda-python")
    assert memory.gpu() == ("Fake GPU", (8, 7)) and memory.stream_handle == 77
    host = memory.host_empty((2, 3), np.float32)
    host[:] = np.arange(6, dtype=np.float32).reshape(2, 3)
    buffer = memory.alloc(host.nbytes)
    memory.to_device(buffer, host)
    back = memory.host_empty((2, 3), np.float32)
    memory.to_host(back, buffer)
    np.testing.assert_array_equal(back, host)
    assert log["copies"] == ["h2d", "d2h"]
    a, b = memory.event(), memory.event()
    memory.record(a)
    memory.record(b)
    assert log["records"] == [a, b] and memory.elapsed_ms(a, b) == 1.5
    memory.begin_capture()
    graph = memory.end_capture()
    memory.launch(graph)
    assert log["capture"] == [("begin", 77, "thread-local"), ("launch", ("exec", "graph", 0), 77)]
    memory.free_graph(graph)
    memory.free(buffer)
    memory.close()
    assert log["freed"] == [buffer.ptr] and len(log["freed_host"]) == 2
    assert log["destroyed"] == ["exec", "graph", "event", "event", "stream"]


def test_pycuda_backend_and_its_graph_refusal(monkeypatch):
    log = []
    driver = types.ModuleType("pycuda.driver")

    class Allocation:
        def __init__(self, n):
            self.buf = ctypes.create_string_buffer(n)

        def __int__(self):
            return ctypes.addressof(self.buf)

        def free(self):
            log.append("free")

    class Context:
        def push(self):
            log.append("push")

        def pop(self):
            log.append("pop")

        def detach(self):
            log.append("detach")

    class Device:
        def __init__(self, index):
            self.index = index

        def retain_primary_context(self):
            return Context()

        def name(self):
            return "Orin"

        def compute_capability(self):
            return (8, 7)

    class Stream:
        handle = 5

        def synchronize(self):
            log.append("sync")

    class Event:
        def __init__(self):
            self.t = None

        def record(self, stream):
            self.t = len(log)
            log.append("record")

        def synchronize(self):
            pass

        def time_since(self, other):
            return float(self.t - other.t)

    driver.init = lambda: log.append("init")
    driver.Device, driver.Stream, driver.Event = Device, Stream, Event
    driver.mem_alloc = Allocation
    driver.pagelocked_empty = lambda shape, dtype: np.zeros(shape, dtype)
    driver.memcpy_htod_async = lambda dst, src, stream: ctypes.memmove(dst, src.ctypes.data, src.nbytes)
    driver.memcpy_dtoh_async = lambda dst, src, stream: ctypes.memmove(dst.ctypes.data, src, dst.nbytes)
    pycuda = types.ModuleType("pycuda")
    pycuda.driver = driver
    monkeypatch.setitem(sys.modules, "pycuda", pycuda)
    monkeypatch.setitem(sys.modules, "pycuda.driver", driver)
    from hsnet_deploy.runtime.tensorrt.cuda_memory import open_device_memory

    memory = open_device_memory("pycuda")
    assert memory.gpu() == ("Orin", (8, 7)) and memory.stream_handle == 5 and log[:2] == ["init", "push"]
    host = memory.host_empty((4,), np.uint8)
    host[:] = [1, 2, 3, 4]
    buffer = memory.alloc(4)
    memory.to_device(buffer, host)
    back = memory.host_empty((4,), np.uint8)
    memory.to_host(back, buffer)
    np.testing.assert_array_equal(back, host)
    a, b = memory.event(), memory.event()
    memory.record(a)
    memory.record(b)
    assert memory.elapsed_ms(a, b) == 1.0
    with pytest.raises(UserError, match="pycuda CUDA library offers no CUDA graph capture"):
        memory.begin_capture()
    memory.free(buffer)
    memory.close()
    assert log[-3:] == ["free", "pop", "detach"]
