"""Compiles an hsnet-deploy ONNX graph with OpenVINO, with its numerics stated, never implied.

    loader = OpenVinoLoader(model, device="CPU", threads=None, precision="f32", cache_dir=None)
    loader()            -> (openvino.CompiledModel for the file's dynamic shapes, metadata)
    loader.requests()   -> ShapeRequests: one infer request per static input shapes (what runs)

- ``model``: a path, serialized bytes or an ``onnx.ModelProto``; B and K stay dynamic
  (OpenVINO reads the ONNX file's dim names as dynamic partial shapes).
- ``device``: ``CPU`` (default), ``GPU``, ``NPU`` or ``AUTO``; one absent from
  ``Core().available_devices`` is refused in one line.
- ``precision``: the ``INFERENCE_PRECISION_HINT``. OpenVINO's own default on CPUs with
  AVX-512 BF16 or AMX is bf16, which moves the logits (0.08 of a 9.4 range measured on
  the 400x400 query graph); this toolkit promises parity, so it is always set: ``f32``
  unless ``bf16`` is asked for. INT8 files run their Q/DQ as int8 kernels either way.
- ``threads``: ``INFERENCE_NUM_THREADS``; ``cache_dir``: OpenVINO's ``CACHE_DIR``, so a
  second start loads the compiled blob instead of compiling again.
- The graph's hsnet-deploy metadata is read from the ONNX header (``loaders.onnx_header``).

**Static shapes run faster.** Compiled for its dynamic B and K, OpenVINO's CPU plugin runs
the 400x400 query graph markedly slower than compiled for the shapes it is fed (2 threads,
this project's AVX-512 CPU: INT8 163 -> 125 ms, FP32 302 -> 267 ms; shape inference and
memory planning per call, and kernels it can only pick for known shapes). So what runs is
:class:`ShapeRequests`: the first call with new input shapes reshapes a copy of the graph to
them and compiles it (0.4 s FP32, 1.0 s INT8 at 400x400), later calls with those shapes reuse
it; at most :data:`MAX_SHAPES` are kept (least recently used dropped). A stream has one shape
(B = 1, its support set's K); a server's batcher a few. Same kernels' numerics either way.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Optional, Union

from ...errors import UserError, first_line
from ..loaders import (
    ModelSource,
    check_threads,
    describe_source,
    onnx_header,
    serialized_model,
)

DEVICES = ("CPU", "GPU", "NPU", "AUTO")
PRECISIONS = ("f32", "bf16")
INSTALL = "the OpenVINO backend needs openvino: pip install 'hsnet-deploy[openvino]'"
MAX_SHAPES = 8  # compiled static-shape models kept per graph (module doc)


def import_openvino():
    try:
        import openvino
    except ImportError:
        raise UserError(INSTALL) from None
    return openvino


def check_options(device: str, precision: str) -> None:
    """UserError for a device or precision name OpenVINO is not asked for here (no import)."""
    if device not in DEVICES:
        raise UserError(f"unknown OpenVINO device {device!r}; choose one of {', '.join(DEVICES)}")
    if precision not in PRECISIONS:
        raise UserError(f"unknown OpenVINO inference precision {precision!r}; choose one of {', '.join(PRECISIONS)}")


_CORE: list = []  # one Core for the process, never released (see shared_core)


def shared_core():
    """The process's one ``openvino.Core``. It is kept alive on purpose: when the last Core
    and compiled model go, OpenVINO unloads its CPU plugin, and a SIGTERM delivered after
    that crashed the process (measured here with OpenVINO 2026.4: segmentation fault); a
    long-lived Core keeps the plugin loaded, and its compiled models are cached anyway."""
    if not _CORE:
        _CORE.append(import_openvino().Core())
    return _CORE[0]


class OpenVinoLoader:
    """Reads one graph once; compiles it for its dynamic shapes (``__call__``, kept) or per
    static input shapes (``requests``)."""

    def __init__(self, model: ModelSource, device: str = "CPU", threads: Optional[int] = None,
                 precision: str = "f32", cache_dir: Optional[Union[str, os.PathLike]] = None) -> None:
        check_options(device, precision)
        self.model = model
        self.device = device
        self.threads = check_threads(threads)
        self.precision = precision
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        self.source = describe_source(model, "ONNX model")
        self.compiled = None
        self.metadata: dict[str, str] = {}
        self._network = None

    def properties(self) -> dict:
        """The compile properties: the numerics always explicit."""
        props: dict = {"INFERENCE_PRECISION_HINT": self.precision}
        if self.threads:
            props["INFERENCE_NUM_THREADS"] = int(self.threads)
        if self.cache_dir is not None:
            props["CACHE_DIR"] = self.cache_dir  # per compile: the shared Core stays as it was
        return props

    def network(self):
        """(the graph read by OpenVINO, an ``openvino.Model`` with the file's dynamic shapes,
        metadata); the device is checked first. Read once, kept."""
        if self._network is None:
            core = shared_core()
            if self.device != "AUTO" and self.device not in {d.split(".")[0] for d in core.available_devices}:
                raise UserError(f"OpenVINO device {self.device} is not available here "
                                f"(this machine has: {', '.join(core.available_devices) or 'none'})")
            if self.cache_dir is not None:
                Path(self.cache_dir).mkdir(parents=True, exist_ok=True)
            self.metadata, _ = onnx_header(self.model, self.source)
            data = serialized_model(self.model)
            try:
                self._network = core.read_model(data if isinstance(data, str) else bytes(data))
            except Exception as err:  # noqa: BLE001 - OpenVINO raises RuntimeError for anything it cannot read
                raise UserError(f"OpenVINO cannot read {self.source}: {first_line(err)}") from None
        return self._network, self.metadata

    def compile(self, shapes: Optional[dict] = None, profiling: bool = False):
        """A compiled model: for the file's dynamic shapes, or for ``shapes`` (input name ->
        static shape); ``profiling`` adds PERF_COUNT (per-node times after a run)."""
        network, _ = self.network()
        props = {**self.properties(), "PERF_COUNT": True} if profiling else self.properties()
        try:
            if shapes:
                network = network.clone()
                ports = {name: port for port in network.inputs for name in port.get_names()}
                network.reshape({ports[name]: list(shape) for name, shape in shapes.items()})
            return shared_core().compile_model(network, self.device, props)
        except Exception as err:  # noqa: BLE001
            raise UserError(f"OpenVINO cannot compile {self.source}: {first_line(err)}") from None

    def requests(self, profiling: bool = False) -> "ShapeRequests":
        """Infer requests compiled per static input shapes, on first use (module doc);
        ``profiling``: second compiles with PERF_COUNT, per-node times of the last run
        (``ShapeRequests.get_profiling_info``)."""
        self.network()
        return ShapeRequests(lambda shapes: self.compile(shapes, profiling))

    def __call__(self):
        if self.compiled is None:
            self.compiled = self.compile()
        return self.compiled, self.metadata


class ShapeRequests:
    """One infer request per static input shapes of one graph, compiled on first use.

    ``request_for(feed)`` -> the request for the feed's shapes; ``last`` is the one used last
    (``get_profiling_info`` reads it). At most :data:`MAX_SHAPES` are kept.
    """

    def __init__(self, compile_for) -> None:
        self._compile_for = compile_for  # {input name: shape} -> openvino.CompiledModel
        self._requests: "OrderedDict[tuple, object]" = OrderedDict()
        self.last = None

    def request_for(self, feed: dict):
        key = tuple((name, tuple(feed[name].shape)) for name in sorted(feed))
        request = self._requests.pop(key, None)
        if request is None:
            request = self._compile_for(dict(key)).create_infer_request()
            while len(self._requests) >= MAX_SHAPES:
                self._requests.popitem(last=False)
        self._requests[key] = request  # most recently used last
        self.last = request
        return request

    def get_profiling_info(self):
        return self.last.get_profiling_info()

    def __len__(self) -> int:
        return len(self._requests)
