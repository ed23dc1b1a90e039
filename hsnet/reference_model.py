"""The reference HSNet shipped inside the package: ``--checkpoint reference`` everywhere.

What it is: HSNet-ResNet50 whose backbone is a *random*, frozen ResNet50 drawn from a seed
(no ImageNet weights can be had where this project is built; ``training.seeded_model``
says exactly how), and whose learner was trained on the synthetic dataset's 20 training
classes (``recipes/reference_model.sh``), its last stage with each step's side drawn from
160 to 480, so it segments at every side in that range; its record's ``img_size`` (400) is
the side commands use when none is given. It segments the synthetic shapes of the 10
held-out classes; it is NOT a model for real photographs: those need an official HSNet
checkpoint (``best_model.pt``).

Only the learner is shipped (2.57 M parameters, stored as float16, ~5 MB):

    hsnet/reference_weights/hsnet_resnet50_synthetic.npz    learner tensors, float16
    hsnet/reference_weights/hsnet_resnet50_synthetic.json   backbone, seed, the backbone's
                                                            SHA-256 fingerprint, the npz's
                                                            SHA-256, training size, scores

Loading rebuilds the backbone from the seed and refuses (one line) when its fingerprint
differs from the recorded one (another PyTorch release drawing other random numbers), or
when the weight file is truncated or altered, so it is never silently a different model.
The learner is used as stored: float16 values widened to float32.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from ..errors import UserError

NAME = "reference"
WEIGHTS_DIR = Path(__file__).parent / "reference_weights"
WEIGHTS = WEIGHTS_DIR / "hsnet_resnet50_synthetic.npz"
WARNING = ("the reference model is HSNet-ResNet50 on a random frozen backbone, trained on synthetic shapes: "
           "it is for trying the toolkit, not for real photographs (use an official HSNet checkpoint for those)")


def is_reference(checkpoint: Any) -> bool:
    """True when ``checkpoint`` names the shipped model (``"reference"``) rather than a file."""
    return isinstance(checkpoint, str) and checkpoint == NAME and not Path(checkpoint).exists()


def recorded_img_size(checkpoint: Any) -> Optional[int]:
    """The size ``checkpoint`` was trained at when it records one (the reference model), else None;
    without loading torch (the loaded model says the same: ``model.trained_img_size``)."""
    return int(read_info()["img_size"]) if is_reference(checkpoint) else None


def info_path(weights: Path) -> Path:
    return weights.with_suffix(".json")


def read_info(weights: Path = WEIGHTS) -> dict:
    """The record beside the weights; UserError when missing or unreadable."""
    path = info_path(weights)
    if not path.is_file() or not weights.is_file():
        raise UserError(f"the reference model's files are missing ({weights.name} / {path.name} in {weights.parent}); "
                        "reinstall hsnet-deploy")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"cannot read the reference model's record {path}: {err}") from None
    for key in ("backbone", "seed", "backbone_sha256", "weights_sha256", "img_size"):
        if key not in info:
            raise UserError(f"the reference model's record {path} lacks '{key}'")
    return info


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_learner(weights: Path, info: Mapping) -> dict:
    """The learner's tensors (float32) from the npz; UserError when altered or truncated."""
    data = weights.read_bytes()
    if _sha256(data) != info["weights_sha256"]:
        raise UserError(f"the reference weights {weights} are altered or truncated (SHA-256 differs from the "
                        "recorded one); reinstall hsnet-deploy")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return {name: np.asarray(arrays[name], dtype=np.float32) for name in arrays.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise UserError(f"cannot read the reference weights {weights}: {err}") from None


def load_reference(weights: Path = WEIGHTS):
    """The shipped reference HSNet, rebuilt exactly (eval mode, CPU)."""
    import torch

    from .provenance import record_provenance
    from .training.seeded_model import backbone_fingerprint, build_model

    info = read_info(weights)
    learner = read_learner(weights, info)
    model = build_model(info["backbone"], int(info["seed"]))
    if backbone_fingerprint(model) != info["backbone_sha256"]:
        raise UserError(
            f"the backbone rebuilt from seed {info['seed']} differs from the one the reference model was trained "
            f"with (fingerprint {info['backbone_sha256'][:12]}); this PyTorch ({torch.__version__}) draws other "
            f"random numbers than the recorded one ({info.get('torch', '?')}): install that PyTorch, or use a full checkpoint"
        )
    own = model.hpn_learner.state_dict()
    if set(own) != set(learner) or any(tuple(own[k].shape) != learner[k].shape for k in own):
        raise UserError(f"the reference weights {weights} do not fit the {info['backbone']} learner")
    model.hpn_learner.load_state_dict({k: torch.from_numpy(v) for k, v in learner.items()})
    model.reference_info = dict(info)
    record_provenance(model, info["weights_sha256"], trained_img_size=int(info["img_size"]))  # checked by read_learner
    return model.eval()


def write_reference(model, weights: Path, extra: Mapping | None = None) -> dict:
    """Store ``model``'s learner as float16 + its record (atomically); returns the record."""
    import torch

    from ..atomic_file import write_bytes_atomic, write_text_atomic
    from .training.seeded_model import backbone_fingerprint

    buffer = io.BytesIO()
    tensors = {k: v.detach().cpu().to(torch.float16).numpy() for k, v in model.hpn_learner.state_dict().items()}
    np.savez(buffer, **tensors)
    data = buffer.getvalue()
    info = {
        "backbone": model.backbone_name,
        "backbone_sha256": backbone_fingerprint(model),
        "weights_sha256": _sha256(data),
        "storage": "float16",
        "torch": torch.__version__,
        "what": WARNING,
        **dict(extra or {}),
    }
    write_bytes_atomic(weights, data)
    write_text_atomic(info_path(weights), json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info
