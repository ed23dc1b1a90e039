"""What an hsnet-deploy model file says about itself, and the I/O each graph kind has.

Every exported graph carries string metadata (ONNX ``metadata_props``; for TensorRT the
same keys in the ``X.engine.json`` sidecar; for a PyTorch checkpoint, derived from the
model):

    hsnet_deploy.graph              episode | support_encoder | query
    hsnet_deploy.backbone           vgg16 | resnet50 | resnet101
    hsnet_deploy.img_size           "400"  (H = W, fixed at export)
    hsnet_deploy.shots              "1", "5", ... or "dynamic"
    hsnet_deploy.opset, hsnet_deploy.checkpoint_sha256 ("random" if none), hsnet_deploy.version

Graph I/O (B and K may be dynamic, H = W = img_size):

    episode          query_img (B,3,H,W), support_imgs (B,K,3,H,W), support_masks (B,K,H,W)
                     -> logits (B,K,2,H,W) f32, mask (B,H,W) u8
    support_encoder  support_imgs, support_masks -> support_c3, support_c2, support_c1
                     (each (B,K,L_p,C_p,h_p,w_p) f32)
    query            query_img, support_c3, support_c2, support_c1 -> logits, mask
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from ..errors import UserError

PREFIX = "hsnet_deploy."
KEY_GRAPH = PREFIX + "graph"
KEY_BACKBONE = PREFIX + "backbone"
KEY_IMG_SIZE = PREFIX + "img_size"
KEY_SHOTS = PREFIX + "shots"
KEY_OPSET = PREFIX + "opset"
KEY_CHECKPOINT = PREFIX + "checkpoint_sha256"
KEY_VERSION = PREFIX + "version"

EPISODE = "episode"
SUPPORT_ENCODER = "support_encoder"
QUERY = "query"
GRAPH_KINDS = (EPISODE, SUPPORT_ENCODER, QUERY)

SUPPORT_FEATURES = ("support_c3", "support_c2", "support_c1")  # deepest first
GRAPH_INPUTS: dict[str, tuple[str, ...]] = {
    EPISODE: ("query_img", "support_imgs", "support_masks"),
    SUPPORT_ENCODER: ("support_imgs", "support_masks"),
    QUERY: ("query_img",) + SUPPORT_FEATURES,
}
GRAPH_OUTPUTS: dict[str, tuple[str, ...]] = {
    EPISODE: ("logits", "mask"),
    SUPPORT_ENCODER: SUPPORT_FEATURES,
    QUERY: ("logits", "mask"),
}


@dataclass(frozen=True)
class GraphInfo:
    """The parsed metadata of one model file."""

    kind: str  # one of GRAPH_KINDS
    backbone: str
    img_size: int  # H = W of the network input
    shots: Optional[int]  # fixed K, or None when K is dynamic
    checkpoint_sha256: str
    source: str  # the file it came from, for error messages

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], source: str) -> "GraphInfo":
        """Parse and check the metadata; UserError if it is not an hsnet-deploy model."""
        kind = metadata.get(KEY_GRAPH)
        if kind is None:
            raise UserError(
                f"{source} is not an hsnet-deploy model (no '{KEY_GRAPH}' metadata); "
                "export it with `hsnet-deploy export`"
            )
        if kind not in GRAPH_KINDS:
            raise UserError(f"{source}: unknown graph kind '{kind}' (expected one of {', '.join(GRAPH_KINDS)})")
        try:
            img_size = int(metadata.get(KEY_IMG_SIZE, ""))
        except ValueError:
            raise UserError(f"{source}: metadata '{KEY_IMG_SIZE}' is missing or not an integer") from None
        if img_size < 1:
            raise UserError(f"{source}: metadata '{KEY_IMG_SIZE}' must be positive, got {img_size}")
        shots_text = metadata.get(KEY_SHOTS, "dynamic")
        if shots_text == "dynamic":
            shots = None
        else:
            try:
                shots = int(shots_text)
            except ValueError:
                raise UserError(f"{source}: metadata '{KEY_SHOTS}' must be an integer or 'dynamic', got '{shots_text}'") from None
            if shots < 1:
                raise UserError(f"{source}: metadata '{KEY_SHOTS}' must be at least 1, got {shots}")
        return cls(
            kind=kind,
            backbone=metadata.get(KEY_BACKBONE, "unknown"),
            img_size=img_size,
            shots=shots,
            checkpoint_sha256=metadata.get(KEY_CHECKPOINT, "unknown"),
            source=source,
        )

    def require_kind(self, kind: str) -> None:
        if self.kind != kind:
            raise UserError(f"{self.source} holds a '{self.kind}' graph, expected a '{kind}' graph")

    def check_same_export(self, other: "GraphInfo") -> None:
        """Split graphs must come from one export: same backbone, size, shots, weights."""
        for field in ("backbone", "img_size", "shots", "checkpoint_sha256"):
            mine, theirs = getattr(self, field), getattr(other, field)
            if mine != theirs:
                raise UserError(
                    f"{self.source} and {other.source} come from different exports "
                    f"({field}: {mine} vs {theirs})"
                )


def check_io_names(kind: str, inputs: tuple[str, ...], outputs: tuple[str, ...], source: str) -> None:
    """The model's input/output names must be those of its graph kind (order free)."""
    want_in, want_out = set(GRAPH_INPUTS[kind]), set(GRAPH_OUTPUTS[kind])
    if set(inputs) != want_in or not want_out <= set(outputs):
        raise UserError(
            f"{source}: a '{kind}' graph needs inputs {sorted(want_in)} and outputs {sorted(want_out)}, "
            f"but has inputs {sorted(inputs)} and outputs {sorted(outputs)}"
        )
