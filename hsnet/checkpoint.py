"""Load HSNet weights from the files people already have, with one clear error otherwise.

Accepted checkpoints (``torch.load(map_location='cpu', weights_only=True)``, never a
network download):

- an official ``best_model.pt``: the bare state_dict of an ``nn.DataParallel`` wrapper,
  every key prefixed ``module.``, backbone included (torchvision names, classifier too);
- a plain HSNet state_dict (the same keys without ``module.``);
- a learner-only state_dict (``hpn_learner.*`` keys, or the learner's own keys such as
  ``encoder_layer4.0.conv1.weight``), together with ``backbone_weights``: a torchvision
  weight file such as ``resnet50-0676ba61.pth``.

The backbone is inferred from the learner's first-layer widths when not given (the number
of layers per pyramid level differs: vgg16 1/3/3, resnet50 3/6/4, resnet101 3/23/4).
Keys are checked strictly: anything missing or unexpected is reported, first few named.
"""

from __future__ import annotations

import os

import torch

from ..errors import UserError
from ..file_digest import sha256_of_file
from .backbone_features import backbone_spec
from .model import HSNet
from .provenance import record_provenance
from .state_dicts import (
    check_and_load,
    check_backbone_file_name,
    infer_backbone,
    load_backbone_file,
    normalize_keys,
    read_state_dict,
)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a weight file (``"reference"``: of the shipped reference weights)."""
    from .reference_model import WEIGHTS, is_reference

    if is_reference(path):
        path = WEIGHTS
    return sha256_of_file(path)


def load_hsnet(backbone: str | None = None, checkpoint=None, backbone_weights=None) -> HSNet:
    """Build an HSNet and load its weights; returned in eval mode on the CPU.

    backbone: "vgg16" | "resnet50" | "resnet101"; inferred from ``checkpoint`` when None,
        "resnet50" when there is nothing to infer from.
    checkpoint: official ``best_model.pt``, a plain HSNet state_dict, or a learner-only one.
    backbone_weights: a torchvision ImageNet weight file for the backbone (required when the
        checkpoint holds no backbone; overrides the checkpoint's backbone when given).
    With neither file the model keeps its random initialisation. ``checkpoint="reference"``
    is the model shipped with the package (:mod:`hsnet_deploy.hsnet.reference_model`).
    """
    from .reference_model import is_reference, load_reference

    if is_reference(checkpoint):
        if backbone not in (None, "resnet50") or backbone_weights is not None:
            raise UserError("the reference model is a resnet50 HSNet with its own seeded backbone: "
                            "give neither --backbone (other than resnet50) nor --backbone-weights with it")
        return load_reference()
    check_backbone_file_name(backbone_weights)  # before the checkpoint is read
    state = normalize_keys(read_state_dict(checkpoint)) if checkpoint is not None else None
    inferred = infer_backbone(state) if state is not None else None
    if state is not None and inferred is None:
        raise UserError(
            f"checkpoint {checkpoint} is not an HSNet checkpoint: no learner weights "
            f"(expected keys like module.hpn_learner.encoder_layer4.0.conv1.weight; found e.g. {', '.join(list(state)[:3])})"
        )
    if backbone is not None:
        backbone_spec(backbone)  # validates the name
        if inferred is not None and inferred != backbone:
            raise UserError(f"checkpoint {checkpoint} holds a {inferred} HSNet, not {backbone}")
    name = backbone or inferred or "resnet50"
    model = HSNet(name)

    if state is not None:
        learner = {k[len("hpn_learner."):]: v for k, v in state.items() if k.startswith("hpn_learner.")}
        backbone_part = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
        other = [k for k in state if not k.startswith(("hpn_learner.", "backbone."))]
        if other:
            raise UserError(f"checkpoint {checkpoint} has keys HSNet does not have: {', '.join(other[:4])}")
        check_and_load(model.hpn_learner, learner, "checkpoint", checkpoint)
        if backbone_part and backbone_weights is None:
            check_and_load(model.backbone, backbone_part, "checkpoint", checkpoint)
        elif not backbone_part and backbone_weights is None:
            raise UserError(
                f"checkpoint {checkpoint} holds only the learner: pass the {name} backbone's "
                "torchvision weight file with --backbone-weights FILE"
            )
    if backbone_weights is not None:
        load_backbone_file(model, backbone_weights)
    if checkpoint is not None:  # the digest exports record (hsnet.provenance)
        record_provenance(model, file_sha256(checkpoint))
    return model.eval()


def save_official_checkpoint(model: HSNet, path) -> None:
    """Save in the official layout (``module.``-prefixed full state_dict), atomically."""
    from ..atomic_file import atomic_path

    state = {f"module.{k}": v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
