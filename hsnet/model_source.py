"""The model source the torch-free runtime looks up by name (``runtime.model_source``).

    load_model(checkpoint, backbone)   the HSNet of a checkpoint file or 'reference'
    load_model(None, backbone, random_seed=S)  seeded random weights (tests, benchmarks)
    weights_digest(model)              what its graphs record as checkpoint_sha256

The one spelling of "which model to load" for every command (export, demo, bench, run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..errors import UserError


def load_model(checkpoint=None, backbone: Optional[str] = None, backbone_weights=None,
               random_seed: Optional[int] = None):
    """The HSNet to run or export, eval mode, on the CPU.

    checkpoint: a file or 'reference'; None with ``random_seed``: random weights drawn from
    the seed (the whole model, or only the learner when ``backbone_weights`` gives the
    backbone), recorded as "random" in every graph made from it.
    """
    from .checkpoint import load_hsnet
    from .random_weights import randomize_for_testing
    from .reference_model import is_reference

    if random_seed is not None:
        model = load_hsnet(backbone or "resnet50", None, backbone_weights)
        randomize_for_testing(model.hpn_learner if backbone_weights else model, random_seed)
        return model.eval()
    if checkpoint is None:
        raise UserError("no checkpoint given (a file, 'reference', or random weights with a seed)")
    if not is_reference(str(checkpoint)) and not Path(checkpoint).is_file():
        raise UserError(f"checkpoint not found: {checkpoint}")
    return load_hsnet(backbone=backbone, checkpoint=str(checkpoint), backbone_weights=backbone_weights)


def weights_digest(model) -> str:
    """The checkpoint digest the model records, while its weights are unchanged (else "random")."""
    from .provenance import checkpoint_sha256_of

    return checkpoint_sha256_of(model)
