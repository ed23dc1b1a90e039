"""Where an in-memory HSNet's weights came from, so every graph made from it says so.

    model = load_hsnet(checkpoint="best_model.pt")   # records the file's SHA-256
    checkpoint_sha256_of(model)                      # -> that digest, while the weights are unchanged
    model.trained_img_size                           # the size it was trained at, when recorded

``load_hsnet`` records the digest of the file it read (for ``"reference"``: of the shipped
weights) together with a fingerprint of the loaded tensors. :func:`checkpoint_sha256_of`
returns the digest only while the weights still match that fingerprint: a model that was
randomised, trained or edited after loading is no longer the file, and reads
``"random"`` (the contract's word for weights no file holds). Exports, the torch runner
and the demo record this value, so the runtime's mismatch check between a support
encoder and a query graph (``checkpoint_sha256``) cannot be defeated by an in-memory
export.

``trained_img_size`` (an attribute, ``None`` when unknown; the reference model's record
says 200) is the size a model runs at when no size is asked for: the torch runner, the
exporter and the benchmarks read it (the runtime by attribute, without importing this).
"""

from __future__ import annotations

import hashlib
from typing import Optional

import torch

from ..runtime.graph_contract import RANDOM_CHECKPOINT

TRAINED_IMG_SIZE = "trained_img_size"  # attribute name read by the runtime's torch runner


def weights_fingerprint(model: torch.nn.Module) -> str:
    """A digest of every tensor of ``model``'s state (names, shapes and values)."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def record_provenance(model: torch.nn.Module, sha256: str, trained_img_size: Optional[int] = None) -> None:
    """Mark ``model``'s current weights as those of the file with digest ``sha256``."""
    model._provenance = (sha256, weights_fingerprint(model))
    setattr(model, TRAINED_IMG_SIZE, None if trained_img_size is None else int(trained_img_size))


def checkpoint_sha256_of(model: torch.nn.Module) -> str:
    """The recorded file digest while the weights are unchanged, else ``"random"``."""
    recorded = getattr(model, "_provenance", None)
    if recorded is None:
        return RANDOM_CHECKPOINT
    sha256, fingerprint = recorded
    return sha256 if weights_fingerprint(model) == fingerprint else RANDOM_CHECKPOINT
