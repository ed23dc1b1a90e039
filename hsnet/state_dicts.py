"""Reading HSNet weight files into tensors, and loading tensors into a model, strictly.

    state = normalize_keys(read_state_dict("best_model.pt"))   # official / plain / learner-only
    infer_backbone(state)                                    # "resnet50", from the learner's widths
    check_and_load(model.hpn_learner, learner_part, "checkpoint", path)
    load_backbone_file(model, "resnet50-0676ba61.pth")       # a torchvision weight file

Used by :mod:`checkpoint` (``load_hsnet``) and by the seeded training model, which must
not go through ``load_hsnet`` (that would import the reference model it builds).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import torch

from ..errors import UserError, first_line
from .backbone_features import BACKBONES

_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")


def read_state_dict(path: str | os.PathLike, what: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Read a tensor dict from ``path``; UserError for a missing, truncated or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, Exception) as err:  # noqa: BLE001
        raise UserError(f"cannot read {what} {path}: not a PyTorch weight file, or truncated ({first_line(err, 160)})") from None
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


def check_and_load(module: torch.nn.Module, state: dict, what: str, path) -> None:
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


def check_backbone_file_name(path) -> None:
    """UserError for a keyword where a file belongs: nothing is ever downloaded."""
    if isinstance(path, str) and path.lower() in {"imagenet", "pretrained", "default"}:
        raise UserError(
            "ImageNet weights are never downloaded: pass the path of a torchvision weight file "
            "(e.g. resnet50-0676ba61.pth, vgg16-397923af.pth) with --backbone-weights FILE"
        )


# Backbone tensors HSNet never runs: a weight file may leave them out (they keep their zeros).
UNUSED_BACKBONE_PREFIXES = ("classifier.",)


def with_unused_backbone_tensors(model, state: dict) -> dict:
    """A backbone ``state`` that leaves out the tensors HSNet never runs, completed with the
    model's own (zeros); a state that has them is returned as it is."""
    if any(k.startswith(UNUSED_BACKBONE_PREFIXES) for k in state):
        return state
    own = model.backbone.state_dict()
    return {**state, **{k: v for k, v in own.items() if k.startswith(UNUSED_BACKBONE_PREFIXES)}}


def load_backbone_file(model, path) -> None:
    """Load a torchvision weight file (``module.``/``backbone.`` prefixes allowed) into ``model.backbone``.
    VGG16's classifier (never run by HSNet) may be absent from the file."""
    check_backbone_file_name(path)
    state = _strip_prefix(_strip_prefix(read_state_dict(path, "backbone weight file"), "module."), "backbone.")
    check_and_load(model.backbone, with_unused_backbone_tensors(model, state), f"{model.backbone_name} backbone weight file", path)
