"""Compiles an hsnet-deploy ONNX graph with OpenVINO, with its numerics stated, never implied.

    OpenVinoLoader(model, device="CPU", threads=None, precision="f32", cache_dir=None)()
        -> (openvino.CompiledModel, metadata)

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
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from ...errors import UserError
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
    """Reads and compiles one graph on first call; the compiled model is kept."""

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

    def properties(self) -> dict:
        """The compile properties: the numerics always explicit."""
        props: dict = {"INFERENCE_PRECISION_HINT": self.precision}
        if self.threads:
            props["INFERENCE_NUM_THREADS"] = int(self.threads)
        if self.cache_dir is not None:
            props["CACHE_DIR"] = self.cache_dir  # per compile: the shared Core stays as it was
        return props

    def profiling_request(self):
        """A second compile of the same graph with the same properties plus PERF_COUNT, and
        an infer request on it: per-node times after a run (``get_profiling_info``)."""
        self()
        core = shared_core()
        data = serialized_model(self.model)
        network = core.read_model(data if isinstance(data, str) else bytes(data))
        return core.compile_model(network, self.device, {**self.properties(), "PERF_COUNT": True}).create_infer_request()

    def __call__(self):
        if self.compiled is not None:
            return self.compiled, self.metadata
        core = shared_core()
        if self.device != "AUTO" and self.device not in {d.split(".")[0] for d in core.available_devices}:
            raise UserError(f"OpenVINO device {self.device} is not available here "
                            f"(this machine has: {', '.join(core.available_devices) or 'none'})")
        if self.cache_dir is not None:
            Path(self.cache_dir).mkdir(parents=True, exist_ok=True)
        self.metadata, _ = onnx_header(self.model, self.source)
        data = serialized_model(self.model)
        try:
            network = core.read_model(data if isinstance(data, str) else bytes(data))
            self.compiled = core.compile_model(network, self.device, self.properties())
        except Exception as err:  # noqa: BLE001 - OpenVINO raises RuntimeError for anything it cannot read
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"OpenVINO cannot compile {self.source}: {reason[:200]}") from None
        return self.compiled, self.metadata
