"""Run an hsnet-deploy ONNX graph with ONNX Runtime (CUDA when available, else CPU).

The runner takes an :class:`~hsnet_deploy.runtime.loaders.OnnxSessionLoader` (a path,
bytes or an in-memory ``onnx.ModelProto``, with device / threads / providers); for
convenience a path (or bytes, or a ModelProto) is wrapped in one. ``device="auto"`` tries
``CUDAExecutionProvider`` first and falls back to ``CPUExecutionProvider``; ``"cuda"``
requires the CUDA provider; ``"cpu"`` never uses it. onnxruntime is imported only in
``activate``.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ...errors import UserError
from ..graph_contract import GraphInfo, check_io_names
from ..loaders import ModelSource
from ..runner import Runner, TensorSpec
from ..tensor_types import from_onnxruntime
from .loader import OnnxSessionLoader


def _spec(node_arg) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in node_arg.shape)
    return TensorSpec(node_arg.name, shape, from_onnxruntime(node_arg.type, node_arg.name))


class OnnxRuntimeRunner(Runner):
    """An ONNX Runtime ``InferenceSession`` behind the Runner interface.

    ``validate=True`` (default) refuses files without hsnet-deploy metadata or whose
    I/O names do not match their graph kind; ``info`` then holds the parsed metadata.
    ``device``, ``intra_op_threads`` and ``providers`` are used only when ``model`` is
    not already a loader (a loader carries its own).
    """

    backend = "onnxruntime"
    _handle = "_session"

    def __init__(
        self,
        model: ModelSource | OnnxSessionLoader,
        device: str = "auto",
        validate: bool = True,
        intra_op_threads: Optional[int] = None,
        providers: Optional[Sequence[str]] = None,
    ) -> None:
        if isinstance(model, OnnxSessionLoader):
            loader = model
        else:
            loader = OnnxSessionLoader(model, device=device, threads=intra_op_threads, providers=providers)
        super().__init__(loader.source)
        self.loader = loader
        self.validate = validate
        self.providers: list[str] = []
        self.info: Optional[GraphInfo] = None
        self._session = None

    @property
    def session(self):
        """The live ``InferenceSession`` (profiling, I/O binding); None when inactive."""
        return self._session

    def _activate(self) -> None:
        session = self.loader()
        self.metadata = dict(session.get_modelmeta().custom_metadata_map)
        self.inputs = {a.name: _spec(a) for a in session.get_inputs()}
        self.outputs = {a.name: _spec(a) for a in session.get_outputs()}
        if self.validate:
            self.info = GraphInfo.from_metadata(self.metadata, self.path)
            check_io_names(self.info.kind, tuple(self.inputs), tuple(self.outputs), self.path)
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
