"""Run the PyTorch HSNet (a ``.pt`` checkpoint) behind the Runner interface.

The same three graph kinds as the ONNX export, computed by the model's own methods:

    episode          model(query_img, support_imgs, support_masks) -> logits (+ mask)
    support_encoder  model.encode_support(support_imgs, support_masks) -> support_c3, c2, c1
    query            model.forward_with_support(query_img, c3, c2, c1) -> logits (+ mask)

``mask`` is the runtime's K-shot vote of the logits at the network size, as in the
exported graphs. One :class:`TorchModelLoader` can feed several runners (the support
encoder and the query runner share one model). torch is imported only on activation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from ..errors import UserError
from .graph_metadata import (
    EPISODE,
    GRAPH_INPUTS,
    GRAPH_KINDS,
    GRAPH_OUTPUTS,
    KEY_BACKBONE,
    KEY_CHECKPOINT,
    KEY_GRAPH,
    KEY_IMG_SIZE,
    KEY_SHOTS,
    QUERY,
    SUPPORT_ENCODER,
    SUPPORT_FEATURES,
    GraphInfo,
)
from .kshot_vote import kshot_vote
from .runner import Runner, TensorSpec

DEVICES = ("auto", "cpu", "cuda")
DEFAULT_IMG_SIZE = 400


def import_torch():
    try:
        import torch
    except ImportError:
        raise UserError("running .pt checkpoints needs PyTorch: pip install torch") from None
    return torch


class TorchModelLoader:
    """Loads (once, on first call) an HSNet from a checkpoint, or wraps a given model.

    ``checkpoint`` is a path for ``hsnet_deploy.hsnet.load_hsnet`` or an ``HSNet``
    instance already built (tests, evaluation).
    """

    def __init__(self, checkpoint: Union[str, os.PathLike, Any], device: str = "auto", backbone: Optional[str] = None):
        if device not in DEVICES:
            raise UserError(f"unknown device '{device}' (expected one of {', '.join(DEVICES)})")
        self.checkpoint = checkpoint
        self.device_request = device
        self.backbone = backbone
        self.model = None
        self.device = None
        self.sha256 = "random"

    @property
    def source(self) -> str:
        if isinstance(self.checkpoint, (str, os.PathLike)):
            return str(self.checkpoint)
        return f"<{type(self.checkpoint).__name__} in memory>"

    def __call__(self):
        """(model on its device in eval mode, torch device)."""
        if self.model is not None:
            return self.model, self.device
        torch = import_torch()
        if self.device_request == "cuda" and not torch.cuda.is_available():
            raise UserError("device 'cuda' requested but PyTorch sees no CUDA device")
        use_cuda = self.device_request in ("cuda", "auto") and torch.cuda.is_available()
        device = torch.device("cuda" if use_cuda else "cpu")
        if isinstance(self.checkpoint, (str, os.PathLike)):
            path = Path(self.checkpoint)
            if not path.is_file():
                raise UserError(f"checkpoint not found: {path}")
            from ..hsnet.checkpoint import file_sha256, load_hsnet  # lazy: torch and the model only now

            model = load_hsnet(backbone=self.backbone, checkpoint=str(path))
            self.sha256 = file_sha256(path)
        else:
            model = self.checkpoint
        self.model = model.to(device).eval()
        self.device = device
        return self.model, self.device


class TorchRunner(Runner):
    """One graph kind of an HSNet model, on numpy in and out.

    ``checkpoint``: a path, an ``HSNet`` instance, or a shared :class:`TorchModelLoader`
    (then ``device`` and ``backbone`` are the loader's, and these arguments are unused).
    """

    backend = "torch"

    def __init__(
        self,
        checkpoint: Union[str, os.PathLike, TorchModelLoader, Any],
        graph: str = EPISODE,
        device: str = "auto",
        img_size: int = DEFAULT_IMG_SIZE,
        backbone: Optional[str] = None,
    ) -> None:
        loader = checkpoint if isinstance(checkpoint, TorchModelLoader) else TorchModelLoader(checkpoint, device, backbone)
        super().__init__(loader.source)
        if graph not in GRAPH_KINDS:
            raise UserError(f"unknown graph kind '{graph}' (expected one of {', '.join(GRAPH_KINDS)})")
        self.loader = loader
        self.graph = graph
        self.img_size = int(img_size)
        self.info: Optional[GraphInfo] = None
        self._torch = None

    def _activate(self) -> None:
        self._torch = import_torch()
        model, _ = self.loader()
        s = self.img_size
        from ..hsnet.image_size import check_image_size

        check_image_size(s, s, str(getattr(model, "backbone_name", "resnet50")))
        f32 = np.dtype(np.float32)
        specs = {
            "query_img": TensorSpec("query_img", (None, 3, s, s), f32),
            "support_imgs": TensorSpec("support_imgs", (None, None, 3, s, s), f32),
            "support_masks": TensorSpec("support_masks", (None, None, s, s), f32),
            "logits": TensorSpec("logits", (None, None, 2, s, s), f32),
            "mask": TensorSpec("mask", (None, s, s), np.dtype(np.uint8)),
        }
        for name in SUPPORT_FEATURES:
            specs[name] = TensorSpec(name, (None,) * 6, f32)
        self.inputs = {n: specs[n] for n in GRAPH_INPUTS[self.graph]}
        self.outputs = {n: specs[n] for n in GRAPH_OUTPUTS[self.graph]}
        self.metadata = {
            KEY_GRAPH: self.graph,
            KEY_BACKBONE: str(getattr(model, "backbone_name", "unknown")),
            KEY_IMG_SIZE: str(s),
            KEY_SHOTS: "dynamic",
            KEY_CHECKPOINT: self.loader.sha256,
        }
        self.info = GraphInfo.from_metadata(self.metadata, self.path)

    def _deactivate(self) -> None:
        self._torch = None

    def _infer(self, feed: dict[str, np.ndarray], copy_outputs: bool) -> dict[str, np.ndarray]:
        torch = self._torch
        model, device = self.loader()
        args = {name: torch.from_numpy(array).to(device) for name, array in feed.items()}
        with torch.inference_mode():
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
