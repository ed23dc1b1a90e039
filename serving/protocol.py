"""The wire contract between ``hsnet-deploy serve`` and its clients: model names, tensor
names and types, the support id, and how a refusal is written.

    hsnet_support   image_1..image_N  uint8 (h_i, w_i, 3)   one support set per request
                    mask_1..mask_N    uint8 (h_i, w_i)      {0, 1} or {0, 255}, not empty
                    -> support_id     BYTES (1,)            sha256 hex of the set + model

    hsnet_segment   query             uint8 (B, h, w, 3)    batched by Triton
                    support_id        BYTES (B, 1)
                    -> mask           uint8 (B, h, w)       {0, 1} at the query's own size
                    -> logits         float32 (B, K, 2, h, w), only when asked for: the request
                                      parameter ``logits: true`` (a client that names no
                                      outputs, perf_analyzer's way, gets the mask alone)

Shots are separate tensors because each may have its own size; N is the server's bound on
K (its ``--max-shots``). A support id is a content hash, the same on every replica that
serves the same model, so a client that lands on another replica registers once more and
gets the same id; an id never names other content, so a cache entry can't be stale.

A refusal is a Triton error whose text contains ``REFUSED`` followed by one line naming
the problem (PyTriton wraps it in a traceback); :func:`refusal_of` extracts that line.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Optional, Sequence

import numpy as np

SUPPORT_MODEL = "hsnet_support"
SEGMENT_MODEL = "hsnet_segment"
QUERY = "query"
SUPPORT_ID = "support_id"
MASK = "mask"
LOGITS = "logits"
ACCESS_HEADER = "triton-access-token"  # PyTriton's header for the admin endpoints

REFUSED = "hsnet-serve refused: "
UNKNOWN_SUPPORT = "unknown support_id"  # the client re-registers when it reads this
BATCH_MATE = "another request in its dynamic batch"  # the client sends such a request again


def wants_logits(request: Any) -> bool:
    """A PyTriton request asks for logits: the ``logits`` parameter set (and the output not
    left out of the outputs it names)."""
    parameters = getattr(request, "parameters", None) or {}
    named = getattr(request, "requested_output_names", None)
    return str(parameters.get(LOGITS, "")).lower() in ("true", "1") and (not named or LOGITS in named)


def image_input(shot: int) -> str:
    return f"image_{shot}"


def mask_input(shot: int) -> str:
    return f"mask_{shot}"


def support_id_of(model_key: str, images: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> str:
    """sha256 over the model's key and every shot's shape and bytes (masks as {0, 1})."""
    digest = hashlib.sha256(model_key.encode())
    for image, mask in zip(images, masks):
        digest.update(repr((image.shape, mask.shape)).encode())
        digest.update(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
        digest.update(np.packbits(np.asarray(mask) > 0).tobytes())
    return digest.hexdigest()


def refusal(message: str) -> str:
    return REFUSED + " ".join(message.split())  # one line


def refusal_of(error_text: str) -> Optional[str]:
    """The one-line reason in a Triton error's text, or None when the server did not refuse."""
    found = re.search(re.escape(REFUSED) + r"([^\n\\]*)", error_text)
    return found.group(1).strip().rstrip("'\"") if found else None
