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
import zipfile
from pathlib import Path

import torch

from ..errors import UserError
from ..file_digest import sha256_of_file
from .backbone_features import BACKBONES, backbone_spec
from .model import HSNet
from .provenance import record_provenance

_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a weight file (``"reference"``: of the shipped reference weights)."""
    from .reference_model import WEIGHTS, is_reference

    if is_reference(path):
        path = WEIGHTS
    return sha256_of_file(path)


def read_state_dict(path: str | os.PathLike, what: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Read a tensor dict from ``path``; UserError for a missing, truncated or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, Exception) as err:  # noqa: BLE001
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"cannot read {what} {path}: not a PyTorch weight file, or truncated ({reason[:160]})") from None
    if isinstance(obj, dict):
        for key in _WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"{what} {path} holds no state_dict of tensors (found {type(obj).__name__})")
    return obj


def _strip_prefix(state: dict, prefix: str) -> dict:
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


def normalize_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map official / plain / learner-only layouts onto HSNet's own key names."""
    state = _strip_prefix(state, "module.")
    if state and all(k.split(".")[0] in _LEARNER_BLOCKS for k in state):
        state = {f"hpn_learner.{k}": v for k, v in state.items()}
    return state


_LEARNER_BLOCKS = {"encoder_layer4", "encoder_layer3", "encoder_layer2", "encoder_layer4to3", "encoder_layer3to2", "decoder1", "decoder2"}


def infer_backbone(state: dict[str, torch.Tensor]) -> str | None:
    """Backbone name from the learner's input widths (layers per pyramid level)."""
    try:
        l3 = state["hpn_learner.encoder_layer4.0.conv1.weight"].shape[1]
        l2 = state["hpn_learner.encoder_layer3.0.conv1.weight"].shape[1]
        l1 = state["hpn_learner.encoder_layer2.0.conv1.weight"].shape[1]
    except (KeyError, IndexError):
        return None
    for name, spec in BACKBONES.items():
        if tuple(reversed(spec.layers_per_level)) == (l3, l2, l1):
            return name
    return None


def _check_and_load(module: torch.nn.Module, state: dict, what: str, path) -> None:
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:4])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:4])})")
        raise UserError(f"{what} {path} does not fit this model: " + "; ".join(parts))
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items() if state[k].shape != v.shape]
    if wrong:
        raise UserError(f"{what} {path} has tensors of the wrong shape: {'; '.join(wrong[:3])}")
    module.load_state_dict(state, strict=True)


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
    if isinstance(backbone_weights, str) and backbone_weights.lower() in {"imagenet", "pretrained", "default"}:
        raise UserError(
            "ImageNet weights are never downloaded: pass the path of a torchvision weight file "
            "(e.g. resnet50-0676ba61.pth, vgg16-397923af.pth) with --backbone-weights FILE"
        )
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
        _check_and_load(model.hpn_learner, learner, "checkpoint", checkpoint)
        if backbone_part and backbone_weights is None:
            _check_and_load(model.backbone, backbone_part, "checkpoint", checkpoint)
        elif not backbone_part and backbone_weights is None:
            raise UserError(
                f"checkpoint {checkpoint} holds only the learner: pass the {name} backbone's "
                "torchvision weight file with --backbone-weights FILE"
            )
    if backbone_weights is not None:
        bstate = _strip_prefix(_strip_prefix(read_state_dict(backbone_weights, "backbone weight file"), "module."), "backbone.")
        _check_and_load(model.backbone, bstate, f"{name} backbone weight file", backbone_weights)
    if checkpoint is not None:  # the digest exports record (hsnet.provenance)
        record_provenance(model, file_sha256(checkpoint))
    return model.eval()


def save_official_checkpoint(model: HSNet, path) -> None:
    """Save in the official layout (``module.``-prefixed full state_dict), atomically."""
    from ..atomic_file import atomic_path

    state = {f"module.{k}": v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
