"""Run an hsnet-deploy ONNX graph with OpenVINO behind the Runner interface.

    OpenVinoRunner(OpenVinoLoader("hsnet.query.onnx", device="CPU", precision="f32"))

The graph's I/O names, dtypes and hsnet-deploy metadata are those of the file, so a
Segmenter runs it exactly as it runs the onnxruntime runner: same pre/post-processing,
same masks (f32 inference: logits within 1e-4 of onnxruntime's on FP32 files). What runs
is compiled for the shapes it is fed, once per new shape (``loader.ShapeRequests``: static
shapes run faster than the file's dynamic B and K); the ports are read from the graph.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from ...errors import UserError, first_line
from ..graph_contract import GRAPH_INPUTS, GRAPH_OUTPUTS, GraphInfo, check_io_names
from ..loaders import ModelSource
from ..runner import Runner, TensorSpec
from .loader import OpenVinoLoader

CONTRACT_NAMES = frozenset(n for names in (*GRAPH_INPUTS.values(), *GRAPH_OUTPUTS.values()) for n in names)
_DTYPES = {"f32": np.float32, "f16": np.float16, "u8": np.uint8, "i64": np.int64, "i32": np.int32, "boolean": np.bool_}


def _port_name(port) -> str:
    """The port's contract name: OpenVINO may give a tensor several names (the cast's, 'mask')."""
    names = port.get_names()
    return next((n for n in sorted(names) if n in CONTRACT_NAMES), port.get_any_name())


def _spec(port) -> TensorSpec:
    name = _port_name(port)
    shape = tuple(int(d.get_length()) if d.is_static else None for d in port.get_partial_shape())
    type_name = port.get_element_type().get_type_name()
    if type_name not in _DTYPES:
        raise UserError(f"tensor '{name}' has OpenVINO element type {type_name}, which the runtime does not handle")
    return TensorSpec(name, shape, np.dtype(_DTYPES[type_name]))


class OpenVinoRunner(Runner):
    """OpenVINO behind the Runner interface (an infer request per static input shapes)."""

    backend = "openvino"
    _handle = "_requests"

    def __init__(self, model: Union[ModelSource, OpenVinoLoader], device: str = "CPU",
                 precision: str = "f32", threads: Optional[int] = None) -> None:
        loader = model if isinstance(model, OpenVinoLoader) else OpenVinoLoader(model, device, threads, precision)
        super().__init__(loader.source)
        self.loader = loader
        self.info: Optional[GraphInfo] = None
        self._requests = None

    def _activate(self) -> None:
        network, metadata = self.loader.network()
        self.metadata = dict(metadata)
        self.inputs = {s.name: s for s in map(_spec, network.inputs)}
        self.outputs = {s.name: s for s in map(_spec, network.outputs)}
        self.info = GraphInfo.from_metadata(self.metadata, self.path)
        check_io_names(self.info.kind, tuple(self.inputs), tuple(self.outputs), self.path)
        self._requests = self.loader.requests()

    def _deactivate(self) -> None:
        self._requests = None

    def _infer(self, feed: dict[str, np.ndarray], copy_outputs: bool) -> dict[str, np.ndarray]:
        request = self._requests.request_for(feed)  # compiles on a new shape: UserError if it cannot
        try:
            results = request.infer(feed, share_inputs=True)  # no copy of the (cached, large) support features
        except Exception as err:  # noqa: BLE001 - shape errors and the like come as RuntimeError
            raise UserError(f"{self.path}: OpenVINO inference failed: {first_line(err)}") from None
        by_name = {_port_name(port): value for port, value in results.items()}
        # the request reuses its output buffers: copy, so a result outlives the next call
        return {name: np.array(by_name[name], copy=True) for name in self.outputs}
