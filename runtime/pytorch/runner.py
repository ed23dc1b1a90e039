"""Run the PyTorch HSNet (a ``.pt`` checkpoint) behind the Runner interface.

The same three graph kinds as the ONNX export, computed by the model's own methods:

    episode          model(query_img, support_imgs, support_masks) -> logits (+ mask)
    support_encoder  model.encode_support(support_imgs, support_masks) -> support_c3, c2, c1
    query            model.forward_with_support(query_img, c3, c2, c1) -> logits (+ mask)

``mask`` is the runtime's K-shot vote of the logits at the network size, as in the
exported graphs. One :class:`~hsnet_deploy.runtime.loaders.TorchModelLoader` can feed
several runners (the support encoder and the query runner share one model). torch is
imported only on activation.

``precision``: "fp32", or "fp16" / "bf16" through ``torch.autocast`` (:func:`autocast`;
the model keeps its mask resize and L2 norms in FP32 itself, autocast runs GroupNorm in
FP32).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Optional, Union

import numpy as np

from ...errors import UserError
from ..graph_contract import (
    EPISODE,
    GRAPH_INPUTS,
    GRAPH_KINDS,
    GRAPH_OUTPUTS,
    KEY_TORCH_PRECISION,
    QUERY,
    SUPPORT_ENCODER,
    SUPPORT_FEATURES,
    TENSOR_DTYPES,
    GraphInfo,
    graph_metadata,
    tensor_dims,
)
from ..kshot_vote import kshot_vote
from ..runner import Runner, TensorSpec
from .loader import TorchModelLoader, import_torch

DEFAULT_IMG_SIZE = 400
PRECISIONS = ("fp32", "fp16", "bf16")


def autocast(device, precision: str):
    """The context a network runs in for ``precision`` on ``device`` (a torch.device)."""
    torch = import_torch()
    if precision not in PRECISIONS:
        raise UserError(f"unknown torch precision '{precision}' (expected one of {', '.join(PRECISIONS)})")
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    # cache off: required for CUDA-graph capture, harmless otherwise
    return torch.autocast(device.type, dtype=dtype, cache_enabled=False)


class TorchRunner(Runner):
    """One graph kind of an HSNet model, on numpy in and out.

    ``checkpoint``: a path, an ``HSNet`` instance, or a shared ``TorchModelLoader``
    (then ``device`` and ``backbone`` are the loader's, and these arguments are unused).
    """

    backend = "torch"

    def __init__(
        self,
        checkpoint: Union[str, os.PathLike, TorchModelLoader, Any],
        graph: str = EPISODE,
        device: str = "auto",
        img_size: Optional[int] = None,
        backbone: Optional[str] = None,
        precision: str = "fp32",
    ) -> None:
        if precision not in PRECISIONS:
            raise UserError(f"unknown torch precision '{precision}' (expected one of {', '.join(PRECISIONS)})")
        loader = checkpoint if isinstance(checkpoint, TorchModelLoader) else TorchModelLoader(checkpoint, device, backbone)
        super().__init__(loader.source)
        if graph not in GRAPH_KINDS:
            raise UserError(f"unknown graph kind '{graph}' (expected one of {', '.join(GRAPH_KINDS)})")
        self.loader = loader
        self.graph = graph
        self.img_size = None if img_size is None else int(img_size)  # None: the model's trained size
        self.precision = precision
        self.info: Optional[GraphInfo] = None
        self._torch = None

    def _activate(self) -> None:
        self._torch = import_torch()
        model, _ = self.loader()
        # a model that records the size it was trained at runs at that size unless told otherwise
        s = self.img_size = int(self.img_size or getattr(model, "trained_img_size", None) or DEFAULT_IMG_SIZE)
        from ..image_size import check_image_size

        backbone = str(getattr(model, "backbone_name", "resnet50"))
        check_image_size(s, s, backbone)
        dims = tensor_dims(self.graph, backbone, s, shots=None, dynamic_batch=True)
        specs = {
            name: TensorSpec(name, tuple(d if isinstance(d, int) else None for d in shape), np.dtype(TENSOR_DTYPES[name]))
            for name, shape in dims.items()
        }
        self.inputs = {n: specs[n] for n in GRAPH_INPUTS[self.graph]}
        self.outputs = {n: specs[n] for n in GRAPH_OUTPUTS[self.graph]}
        self.metadata = graph_metadata(
            self.graph, backbone, s, shots=None, opset=None, checkpoint_sha256=self.loader.sha256,
            exporter=f"torch {self._torch.__version__} eager", extra={KEY_TORCH_PRECISION: self.precision},
        )
        self.info = GraphInfo.from_metadata(self.metadata, self.path)

    def _deactivate(self) -> None:
        self._torch = None

    def _infer(self, feed: dict[str, np.ndarray], copy_outputs: bool) -> dict[str, np.ndarray]:
        torch = self._torch
        model, device = self.loader()
        args = {name: torch.from_numpy(array).to(device) for name, array in feed.items()}
        with torch.inference_mode(), autocast(device, self.precision):
            if self.graph == SUPPORT_ENCODER:
                features = model.encode_support(args["support_imgs"], args["support_masks"])
                return {name: t.float().cpu().numpy() for name, t in zip(SUPPORT_FEATURES, features)}
            if self.graph == QUERY:
                logits = model.forward_with_support(args["query_img"], *(args[n] for n in SUPPORT_FEATURES))
            else:
                logits = model(args["query_img"], args["support_imgs"], args["support_masks"])
        logits = logits.float().cpu().numpy()  # (B, K, 2, S, S)
        mask = np.stack([kshot_vote(episode) for episode in logits])  # (B, S, S) uint8
        return {"logits": logits, "mask": mask}
