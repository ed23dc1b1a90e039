"""Run an hsnet-deploy ONNX graph with ONNX Runtime (CUDA when available, else CPU).

``device="auto"`` tries ``CUDAExecutionProvider`` first and falls back to
``CPUExecutionProvider``; ``"cuda"`` requires the CUDA provider; ``"cpu"`` never uses it.
onnxruntime is imported only in ``activate``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import UserError
from .graph_metadata import GraphInfo, check_io_names
from .runner import Runner, TensorSpec

DEVICES = ("auto", "cpu", "cuda")

# ONNX Runtime's type strings -> numpy.
_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


def import_onnxruntime():
    """onnxruntime, or a UserError saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise UserError(
            "running .onnx models needs onnxruntime: pip install onnxruntime "
            "(or onnxruntime-gpu for CUDA)"
        ) from None
    return onnxruntime


def choose_providers(device: str, available: list[str]) -> list[str]:
    """Execution providers for ``device`` given what this onnxruntime build offers."""
    if device not in DEVICES:
        raise UserError(f"unknown device '{device}' (expected one of {', '.join(DEVICES)})")
    has_cuda = "CUDAExecutionProvider" in available
    if device == "cuda" and not has_cuda:
        raise UserError(
            "device 'cuda' requested but this onnxruntime has no CUDAExecutionProvider "
            "(install onnxruntime-gpu, or use --device cpu)"
        )
    if device in ("cuda", "auto") and has_cuda:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _spec(node_arg) -> TensorSpec:
    dtype = _ORT_DTYPES.get(node_arg.type)
    if dtype is None:
        raise UserError(f"unsupported tensor type {node_arg.type} for '{node_arg.name}'")
    shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in node_arg.shape)
    return TensorSpec(node_arg.name, shape, np.dtype(dtype))


class OnnxRuntimeRunner(Runner):
    """An ONNX Runtime ``InferenceSession`` behind the Runner interface.

    ``validate=True`` (default) refuses files without hsnet-deploy metadata or whose
    I/O names do not match their graph kind; ``info`` then holds the parsed metadata.
    """

    backend = "onnxruntime"

    def __init__(
        self,
        path: str | os.PathLike,
        device: str = "auto",
        validate: bool = True,
        intra_op_threads: Optional[int] = None,
    ) -> None:
        super().__init__(str(path))
        if device not in DEVICES:
            raise UserError(f"unknown device '{device}' (expected one of {', '.join(DEVICES)})")
        self.device = device
        self.validate = validate
        self.intra_op_threads = intra_op_threads
        self.providers: list[str] = []
        self.info: Optional[GraphInfo] = None
        self._session = None

    def _activate(self) -> None:
        path = Path(self.path)
        if not path.is_file():
            raise UserError(f"model not found: {path}")
        ort = import_onnxruntime()
        providers = choose_providers(self.device, ort.get_available_providers())
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: no provider-fallback chatter on stderr
        if self.intra_op_threads:
            options.intra_op_num_threads = self.intra_op_threads
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types for bad files
            reason = str(err).strip().split("\n")[0]
            raise UserError(f"cannot load ONNX model {path}: {reason}") from None
        self.metadata = dict(session.get_modelmeta().custom_metadata_map)
        self.inputs = {a.name: _spec(a) for a in session.get_inputs()}
        self.outputs = {a.name: _spec(a) for a in session.get_outputs()}
        if self.validate:
            self.info = GraphInfo.from_metadata(self.metadata, str(path))
            check_io_names(self.info.kind, tuple(self.inputs), tuple(self.outputs), str(path))
        self.providers = list(session.get_providers())
        self._session = session

    def _deactivate(self) -> None:
        self._session = None

    def _infer(self, feed: dict[str, np.ndarray], copy_outputs: bool) -> dict[str, np.ndarray]:
        names = list(self.outputs)
        try:
            values = self._session.run(names, feed)
        except Exception as err:  # shape errors etc. surface as onnxruntime exceptions
            reason = str(err).strip().split("\n")[0]
            raise UserError(f"{self.path}: inference failed: {reason}") from None
        return dict(zip(names, values))
