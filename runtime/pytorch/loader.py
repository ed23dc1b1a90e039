"""Loads the PyTorch model for the torch runner, through the model-source registry.

    TorchModelLoader(checkpoint, device, backbone, threads)()  -> (model in eval mode, device)
"""

from __future__ import annotations

import os
from typing import Any, Optional

from ...errors import UserError
from ..loaders import check_device, check_threads, describe_source
from ..model_source import model_source


def import_torch():
    try:
        import torch
    except ImportError:
        raise UserError("running .pt checkpoints needs PyTorch: pip install torch") from None
    return torch


def choose_torch_device(request: str = "auto"):
    """``torch.device`` for "auto" (CUDA when PyTorch sees one), "cpu" or "cuda"."""
    torch = import_torch()
    check_device(request)
    if request == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' requested but PyTorch sees no CUDA device (use --device cpu)")
    use_cuda = request in ("cuda", "auto") and torch.cuda.is_available()
    return torch.device("cuda" if use_cuda else "cpu")


class TorchModelLoader:
    """Loads (once, on first call) an HSNet from a checkpoint, or wraps a given model.

    ``checkpoint`` is a path (or 'reference') for the registered model source
    (:mod:`.model_source`) or an ``HSNet`` instance already built (tests, evaluation). ``threads`` sets PyTorch's intra-op
    threads when the model is loaded.
    """

    def __init__(self, checkpoint: Any, device: str = "auto", backbone: Optional[str] = None, threads: Optional[int] = None):
        self.checkpoint = checkpoint
        self.device_request = check_device(device)
        self.backbone = backbone
        self.threads = check_threads(threads)
        self.model = None
        self.device = None
        self.sha256 = "random"
        self.source = describe_source(checkpoint, "checkpoint")

    def __call__(self):
        """(model on its device in eval mode, torch device)."""
        if self.model is not None:
            return self.model, self.device
        torch = import_torch()
        device = choose_torch_device(self.device_request)
        if self.threads:
            torch.set_num_threads(self.threads)
        source = model_source()  # the model, by name: the runtime never imports it
        model = source.load_model(self.checkpoint, self.backbone) if isinstance(self.checkpoint, (str, os.PathLike)) else self.checkpoint
        self.sha256 = source.weights_digest(model)  # the file it was loaded from, while unchanged
        self.model = model.to(device).eval()
        self.device = device
        return self.model, self.device
