"""Provenance metadata written into every exported graph (``model.metadata_props``).

Contract keys (MODEL_API.md), all strings:

    hsnet_deploy.graph              episode | support_encoder | query
    hsnet_deploy.backbone           vgg16 | resnet50 | resnet101
    hsnet_deploy.img_size           "400"
    hsnet_deploy.shots              "1", "5", ... or "dynamic"
    hsnet_deploy.opset              "17"
    hsnet_deploy.checkpoint_sha256  64 hex digits, or "random"
    hsnet_deploy.version            hsnet_deploy.__version__

Extra keys (informative): ``hsnet_deploy.shots_range`` ("1:10", when K is dynamic and a
range was given: the TensorRT profile to build), ``hsnet_deploy.batch`` ("dynamic" or
"1"), ``hsnet_deploy.exporter`` (torch version and exporter).
"""

from __future__ import annotations

import re
from typing import Optional

from ..runtime.graph_metadata import (  # the runtime's keys: one definition for writer and reader
    KEY_BACKBONE,
    KEY_CHECKPOINT,
    KEY_GRAPH,
    KEY_IMG_SIZE,
    KEY_OPSET,
    KEY_SHOTS,
    KEY_VERSION,
    PREFIX,
)

REQUIRED_KEYS = (KEY_GRAPH, KEY_BACKBONE, KEY_IMG_SIZE, KEY_SHOTS, KEY_OPSET, KEY_CHECKPOINT, KEY_VERSION)
KEY_SHOTS_RANGE = PREFIX + "shots_range"
KEY_BATCH = PREFIX + "batch"
KEY_EXPORTER = PREFIX + "exporter"

RANDOM_CHECKPOINT = "random"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def valid_checkpoint_digest(value: str) -> bool:
    return value == RANDOM_CHECKPOINT or bool(_SHA256.fullmatch(value))


def export_metadata(
    graph: str,
    backbone: str,
    img_size: int,
    shots: Optional[int],
    opset: int,
    checkpoint_sha256: str,
    shots_range: Optional[tuple[int, int]] = None,
    dynamic_batch: bool = True,
    exporter: str = "",
) -> dict[str, str]:
    from .. import __version__

    meta = {
        KEY_GRAPH: graph,
        KEY_BACKBONE: backbone,
        KEY_IMG_SIZE: str(int(img_size)),
        KEY_SHOTS: "dynamic" if shots is None else str(int(shots)),
        KEY_OPSET: str(int(opset)),
        KEY_CHECKPOINT: checkpoint_sha256,
        KEY_VERSION: __version__,
        KEY_BATCH: "dynamic" if dynamic_batch else "1",
    }
    if shots is None and shots_range is not None:
        meta[KEY_SHOTS_RANGE] = f"{int(shots_range[0])}:{int(shots_range[1])}"
    if exporter:
        meta[KEY_EXPORTER] = exporter
    return meta
