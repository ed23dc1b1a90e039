"""The model a training run starts from, reproducible from ``--seed``.

    torch.manual_seed(seed)
    model = HSNet(backbone) (+ the backbone FILE if given)       # learner: PyTorch's default init
    if no FILE: randomize_for_testing(model.backbone, seed)       # seeded random backbone

- Learner: PyTorch's default initialisation of every Conv2d / GroupNorm, drawn from the
  global generator right after ``torch.manual_seed(seed)``.
- Backbone: the given torchvision weight file (e.g. ImageNet ``resnet50-0676ba61.pth``)
  when there is one. Without one (no ImageNet weights are available offline here) it is
  :func:`hsnet_deploy.hsnet.random_weights.randomize_for_testing` with the same seed, one
  ``torch.Generator().manual_seed(seed)`` drawn in module order: every conv weight
  N(0, 2 / fan_in) (He), BatchNorm weight U(0.5, 1.5), bias U(-0.2, 0.2), running mean
  N(0, 0.2^2), running variance U(0.5, 2). The backbone then stays frozen, so the trained
  checkpoint holds exactly this backbone.
"""

from __future__ import annotations

from typing import Optional

import torch


def build_model(backbone: str = "resnet50", seed: int = 0, backbone_weights: Optional[str] = None):
    """A fresh HSNet (train mode; the backbone stays in eval mode, frozen)."""
    from ..backbone_features import backbone_spec
    from ..model import HSNet
    from ..random_weights import randomize_for_testing
    from ..state_dicts import load_backbone_file

    backbone_spec(backbone)  # UserError for an unknown name
    torch.manual_seed(seed)
    model = HSNet(backbone)
    if backbone_weights is not None:
        load_backbone_file(model, backbone_weights)
    else:
        randomize_for_testing(model.backbone, seed)
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    return model.train()


def backbone_fingerprint(model) -> str:
    """SHA-256 of the frozen backbone's tensors (names, shapes, bytes), in state_dict order;
    the tensors HSNet never runs (VGG16's classifier, zeros) are left out."""
    import hashlib

    from ..state_dicts import UNUSED_BACKBONE_PREFIXES

    digest = hashlib.sha256()
    for name, tensor in model.backbone.state_dict().items():
        if name.startswith(UNUSED_BACKBONE_PREFIXES):
            continue
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
