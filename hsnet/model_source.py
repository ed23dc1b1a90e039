"""The model source the torch-free runtime looks up by name (``runtime.model_source``).

    load_model(checkpoint, backbone)   the HSNet of a checkpoint file or 'reference'
    weights_digest(model)              what its graphs record as checkpoint_sha256
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..errors import UserError


def load_model(checkpoint, backbone: Optional[str] = None):
    """The HSNet ``checkpoint`` names (a file or 'reference'), eval mode, on the CPU."""
    from .checkpoint import load_hsnet
    from .reference_model import is_reference

    if not is_reference(str(checkpoint)) and not Path(checkpoint).is_file():
        raise UserError(f"checkpoint not found: {checkpoint}")
    return load_hsnet(backbone=backbone, checkpoint=str(checkpoint))


def weights_digest(model) -> str:
    """The checkpoint digest the model records, while its weights are unchanged (else "random")."""
    from .provenance import checkpoint_sha256_of

    return checkpoint_sha256_of(model)
