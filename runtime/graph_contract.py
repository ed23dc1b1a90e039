"""The graph contract: what every hsnet-deploy model file is, in one torch-free place.

The exporter writes it, ``check`` verifies it, the runners read it, the benchmarks,
the TensorRT builder and the Triton exporter build on it; nothing restates it.

Graph kinds and their I/O (B and K may be dynamic; H = W = S, the image size):

    episode          query_img (B,3,S,S), support_imgs (B,K,3,S,S), support_masks (B,K,S,S)
                     -> logits (B,K,2,S,S) float32, mask (B,S,S) uint8
    support_encoder  support_imgs, support_masks -> support_c3, support_c2, support_c1
                     (each (B,K,L_p,C_p,n_p,n_p) float32, deepest level first)
    query            query_img, support_c3, support_c2, support_c1 -> logits, mask

Whatever the precision inside (FP16 islands, INT8 Q/DQ), the I/O stays as above, so a
runtime never needs to know how a graph computes.

Metadata (ONNX ``metadata_props``; the same keys in a TensorRT engine's sidecar; derived
from the model for a PyTorch checkpoint), all strings:

    hsnet_deploy.graph              episode | support_encoder | query         (required)
    hsnet_deploy.backbone           vgg16 | resnet50 | resnet101              (required)
    hsnet_deploy.img_size           "400"                                     (required)
    hsnet_deploy.shots              "1", "5", ... or "dynamic"                (required)
    hsnet_deploy.opset              "17"                                      (required)
    hsnet_deploy.checkpoint_sha256  64 hex digits, or "random"                (required)
    hsnet_deploy.version            the tool's version                        (required)
    hsnet_deploy.batch              "dynamic" or "1"                          (default dynamic)
    hsnet_deploy.shots_range        "MIN:MAX" when K is dynamic (TensorRT profiles)
    hsnet_deploy.precision          fp32 | fp16 | int8                        (default fp32)
    hsnet_deploy.islands            node groups kept at a higher precision, comma-separated
    hsnet_deploy.calibration_source / _episodes / _method
                                    where an INT8 graph's activation ranges came from
    hsnet_deploy.exporter           torch version and exporter (informative)
    hsnet_deploy.torch_precision    an eager PyTorch model's autocast precision (torch runner)

Split files: ``NAME.support<ext>`` and ``NAME.query<ext>`` beside ``NAME<ext>`` (the
episode graph), for every file type (``.onnx``, ``.engine``, ``.plan``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Union

from ..errors import UserError

# ---- metadata keys -------------------------------------------------------------------
PREFIX = "hsnet_deploy."
KEY_GRAPH = PREFIX + "graph"
KEY_BACKBONE = PREFIX + "backbone"
KEY_IMG_SIZE = PREFIX + "img_size"
KEY_SHOTS = PREFIX + "shots"
KEY_OPSET = PREFIX + "opset"
KEY_CHECKPOINT = PREFIX + "checkpoint_sha256"
KEY_VERSION = PREFIX + "version"
KEY_BATCH = PREFIX + "batch"
KEY_SHOTS_RANGE = PREFIX + "shots_range"
KEY_PRECISION = PREFIX + "precision"
KEY_ISLANDS = PREFIX + "islands"
KEY_CALIBRATION_SOURCE = PREFIX + "calibration_source"
KEY_CALIBRATION_EPISODES = PREFIX + "calibration_episodes"
KEY_CALIBRATION_METHOD = PREFIX + "calibration_method"
KEY_EXPORTER = PREFIX + "exporter"
KEY_TORCH_PRECISION = PREFIX + "torch_precision"  # an eager model's autocast precision (fp32, fp16, bf16)
REQUIRED_KEYS = (KEY_GRAPH, KEY_BACKBONE, KEY_IMG_SIZE, KEY_SHOTS, KEY_OPSET, KEY_CHECKPOINT, KEY_VERSION)

DYNAMIC = "dynamic"
RANDOM_CHECKPOINT = "random"
PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_PRECISION = "fp32"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_RANGE = re.compile(r"\s*(\d+)\s*:\s*(\d+)\s*")

# ---- graph kinds and I/O ---------------------------------------------------------------
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
TENSOR_DTYPES: dict[str, str] = {  # numpy dtype names, whatever the precision inside
    "query_img": "float32", "support_imgs": "float32", "support_masks": "float32",
    "logits": "float32", "mask": "uint8", **{name: "float32" for name in SUPPORT_FEATURES},
}
TENSOR_RANKS: dict[str, int] = {
    "query_img": 4, "support_imgs": 5, "support_masks": 4, "logits": 5, "mask": 3,
    **{name: 6 for name in SUPPORT_FEATURES},
}
BATCH_DIM, SHOTS_DIM = "batch", "shots"  # names of the dynamic dims in the graphs
NO_SHOTS_AXIS = frozenset({"query_img", "mask"})  # tensors with a B axis but no K axis

# Layers and channels per pyramid level (C1, C2, C3: shallow to deep) of each backbone;
# hsnet.backbone_features builds the networks from the same table.
BACKBONE_LEVELS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "vgg16": ((3, 3, 1), (512, 512, 512)),
    "resnet50": ((4, 6, 3), (512, 1024, 2048)),
    "resnet101": ((4, 23, 3), (512, 1024, 2048)),
}
BACKBONE_NAMES = tuple(BACKBONE_LEVELS)

Dim = Union[int, str]


def tensor_dims(kind: str, backbone: str, img_size: int, shots: Optional[int], dynamic_batch: bool) -> dict[str, list[Dim]]:
    """Every input/output of a ``kind`` graph -> its dims: ints, or ``"batch"`` / ``"shots"``."""
    from .image_size import level_sizes  # torch-free

    if backbone not in BACKBONE_LEVELS:
        raise UserError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONE_NAMES)}")
    b: Dim = BATCH_DIM if dynamic_batch else 1
    k: Dim = SHOTS_DIM if shots is None else int(shots)
    s = int(img_size)
    layers, channels = BACKBONE_LEVELS[backbone]
    sides = level_sizes(s, backbone)  # (n1, n2, n3)
    dims: dict[str, list[Dim]] = {
        "query_img": [b, 3, s, s], "support_imgs": [b, k, 3, s, s], "support_masks": [b, k, s, s],
        "logits": [b, k, 2, s, s], "mask": [b, s, s],
    }
    for name, p in zip(SUPPORT_FEATURES, (2, 1, 0)):  # support_c3 is the deepest level
        dims[name] = [b, k, layers[p], channels[p], sides[p], sides[p]]
    return {name: dims[name] for name in GRAPH_INPUTS[kind] + GRAPH_OUTPUTS[kind]}


def dynamic_axes(kind: str, shots: Optional[int], dynamic_batch: bool) -> dict[str, dict[int, str]]:
    """Which axes of which I/O tensor are dynamic (for ``torch.onnx.export``)."""
    axes: dict[str, dict[int, str]] = {}
    for name in GRAPH_INPUTS[kind] + GRAPH_OUTPUTS[kind]:
        named = {}
        if dynamic_batch:
            named[0] = BATCH_DIM
        if shots is None and name not in NO_SHOTS_AXIS:
            named[1] = SHOTS_DIM
        if named:
            axes[name] = named
    return axes


# ---- split-file naming -----------------------------------------------------------------
SPLIT_TAGS = {".support": SUPPORT_ENCODER, ".query": QUERY}  # NAME<tag><suffix>


def split_paths(path: Union[str, Path]) -> dict[str, Path]:
    """NAME<ext> (or either half) -> {episode: NAME<ext>, support_encoder: NAME.support<ext>,
    query: NAME.query<ext>}."""
    path = Path(path)
    suffix = path.suffix
    stem = path.name[: -len(suffix)] if suffix else path.name
    for tag in SPLIT_TAGS:
        if stem.endswith(tag):
            stem = stem[: -len(tag)]
            break
    return {
        EPISODE: path.with_name(f"{stem}{suffix}"),
        SUPPORT_ENCODER: path.with_name(f"{stem}.support{suffix}"),
        QUERY: path.with_name(f"{stem}.query{suffix}"),
    }


def split_tag_of(path: Union[str, Path]) -> Optional[str]:
    """The graph kind a file's name declares (``.support`` / ``.query``), or None."""
    path = Path(path)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return next((kind for tag, kind in SPLIT_TAGS.items() if stem.endswith(tag)), None)


# ---- metadata: writing and reading -----------------------------------------------------
def metadata_of(model) -> dict[str, str]:
    """An ONNX ModelProto's ``metadata_props`` as a dict (the one reader; no onnx import)."""
    return {p.key: p.value for p in model.metadata_props}


def valid_checkpoint_digest(value: str) -> bool:
    return value == RANDOM_CHECKPOINT or bool(_SHA256.fullmatch(value))


def parse_range(text: str, what: str) -> tuple[int, int]:
    """'1:10' -> (1, 10); UserError naming ``what`` for anything else."""
    match = _RANGE.fullmatch(text or "")
    if not match:
        raise UserError(f"{what} wants MIN:MAX with whole numbers, e.g. 1:10 (got {text!r})")
    lo, hi = int(match.group(1)), int(match.group(2))
    if lo < 1 or hi < lo:
        raise UserError(f"{what} {text}: need 1 <= MIN <= MAX")
    return lo, hi


def graph_metadata(
    kind: str,
    backbone: str,
    img_size: int,
    shots: Optional[int],
    opset: Optional[int],
    checkpoint_sha256: str,
    shots_range: Optional[tuple[int, int]] = None,
    dynamic_batch: bool = True,
    precision: str = DEFAULT_PRECISION,
    exporter: str = "",
    extra: Optional[Mapping[str, str]] = None,
) -> dict[str, str]:
    """The metadata of one graph, as every writer (export, torch runner, builder) records it.

    Keys in insertion order: graph, backbone, img_size, shots, checkpoint, version, batch,
    precision, then opset, shots_range, exporter and ``extra`` where given.
    """
    from .. import __version__

    meta = {
        KEY_GRAPH: kind,
        KEY_BACKBONE: backbone,
        KEY_IMG_SIZE: str(int(img_size)),
        KEY_SHOTS: DYNAMIC if shots is None else str(int(shots)),
        KEY_CHECKPOINT: checkpoint_sha256,
        KEY_VERSION: __version__,
        KEY_BATCH: DYNAMIC if dynamic_batch else "1",
        KEY_PRECISION: precision,
    }
    if opset is not None:  # an eager PyTorch model has none
        meta[KEY_OPSET] = str(int(opset))
    if shots is None and shots_range is not None:
        meta[KEY_SHOTS_RANGE] = f"{int(shots_range[0])}:{int(shots_range[1])}"
    if exporter:
        meta[KEY_EXPORTER] = exporter
    meta.update({str(k): str(v) for k, v in (extra or {}).items()})
    return meta


def metadata_problems(meta: Mapping[str, str], require_all: bool = True) -> list[str]:
    """What is wrong with a metadata record ('' values never pass); empty when valid.

    ``require_all``: every required key present, a known backbone and a valid digest
    (``check``); the runtime needs only the kind and the size (the rest is compared
    between split graphs, not interpreted) and fills defaults.
    """
    problems = []
    required = REQUIRED_KEYS if require_all else (KEY_GRAPH, KEY_IMG_SIZE)
    missing = [k for k in required if k not in meta]
    if missing:
        problems.append(f"missing keys: {', '.join(missing)}")
    value = meta.get
    if KEY_GRAPH in meta and value(KEY_GRAPH) not in GRAPH_KINDS:
        problems.append(f"{KEY_GRAPH}={value(KEY_GRAPH)!r} (expected one of {', '.join(GRAPH_KINDS)})")
    if require_all and value(KEY_BACKBONE) not in BACKBONE_NAMES:  # the runtime does not need it
        problems.append(f"{KEY_BACKBONE}={value(KEY_BACKBONE)!r}")
    if KEY_IMG_SIZE in meta and not (value(KEY_IMG_SIZE, "").isdigit() and int(value(KEY_IMG_SIZE)) >= 1):
        problems.append(f"{KEY_IMG_SIZE}={value(KEY_IMG_SIZE)!r} (a positive integer)")
    shots = value(KEY_SHOTS, DYNAMIC)
    if shots != DYNAMIC and not (shots.isdigit() and int(shots) >= 1):
        problems.append(f"{KEY_SHOTS}={shots!r} (an integer >= 1 or 'dynamic')")
    if require_all and not valid_checkpoint_digest(value(KEY_CHECKPOINT, "")):
        problems.append(f"{KEY_CHECKPOINT}={value(KEY_CHECKPOINT)!r}")
    if value(KEY_BATCH, DYNAMIC) not in (DYNAMIC, "1"):
        problems.append(f"{KEY_BATCH}={value(KEY_BATCH)!r} (expected 'dynamic' or '1')")
    if value(KEY_PRECISION, DEFAULT_PRECISION) not in PRECISIONS:
        problems.append(f"{KEY_PRECISION}={value(KEY_PRECISION)!r} (expected one of {', '.join(PRECISIONS)})")
    if KEY_SHOTS_RANGE in meta:
        try:
            parse_range(value(KEY_SHOTS_RANGE, ""), KEY_SHOTS_RANGE)
        except UserError:
            problems.append(f"{KEY_SHOTS_RANGE}={value(KEY_SHOTS_RANGE)!r} (expected MIN:MAX)")
    return problems


@dataclass(frozen=True)
class GraphInfo:
    """The parsed metadata of one model file."""

    kind: str  # one of GRAPH_KINDS
    backbone: str
    img_size: int  # H = W of the network input
    shots: Optional[int]  # fixed K, or None when K is dynamic
    checkpoint_sha256: str
    source: str  # the file it came from, for error messages
    batch: Optional[int] = None  # fixed B (1), or None when B is dynamic
    shots_range: Optional[tuple[int, int]] = None  # recorded (min, max) of a dynamic K
    precision: str = DEFAULT_PRECISION
    metadata: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], source: str) -> "GraphInfo":
        """Parse and check the metadata; UserError if it is not an hsnet-deploy model."""
        if KEY_GRAPH not in metadata:
            raise UserError(
                f"{source} is not an hsnet-deploy model (no '{KEY_GRAPH}' metadata); "
                "export it with `hsnet-deploy export`"
            )
        problems = metadata_problems(metadata, require_all=False)
        if problems:
            raise UserError(f"{source}: bad hsnet-deploy metadata: {'; '.join(problems)}")
        shots = metadata.get(KEY_SHOTS, DYNAMIC)
        shots_range = metadata.get(KEY_SHOTS_RANGE)
        return cls(
            kind=metadata[KEY_GRAPH],
            backbone=metadata.get(KEY_BACKBONE, "unknown"),
            img_size=int(metadata[KEY_IMG_SIZE]),
            shots=None if shots == DYNAMIC else int(shots),
            checkpoint_sha256=metadata.get(KEY_CHECKPOINT, "unknown"),
            source=source,
            batch=None if metadata.get(KEY_BATCH, DYNAMIC) == DYNAMIC else 1,
            shots_range=parse_range(shots_range, KEY_SHOTS_RANGE) if shots_range else None,
            precision=metadata.get(KEY_PRECISION, DEFAULT_PRECISION),
            metadata=dict(metadata),
        )

    def require_kind(self, kind: str) -> None:
        if self.kind != kind:
            raise UserError(f"{self.source} holds a '{self.kind}' graph, expected a '{kind}' graph")

    def check_same_export(self, other: "GraphInfo") -> None:
        """Split graphs must come from one export: same backbone, size, shots, batch and
        weights. Their precisions may differ (an INT8 query graph beside an FP16 support
        encoder): the support features between them are float32 whatever the precision."""
        for name in ("backbone", "img_size", "shots", "batch", "checkpoint_sha256"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                raise UserError(
                    f"{self.source} and {other.source} come from different exports "
                    f"({name}: {mine} vs {theirs})"
                )

    def dims(self) -> dict[str, list[Dim]]:
        """The contract's dims of this graph's I/O (see :func:`tensor_dims`)."""
        return tensor_dims(self.kind, self.backbone, self.img_size, self.shots, self.batch is None)


def check_io_names(kind: str, inputs: tuple[str, ...], outputs: tuple[str, ...], source: str) -> None:
    """The model's input/output names must be those of its graph kind (order free)."""
    want_in, want_out = set(GRAPH_INPUTS[kind]), set(GRAPH_OUTPUTS[kind])
    if set(inputs) != want_in or not want_out <= set(outputs):
        raise UserError(
            f"{source}: a '{kind}' graph needs inputs {sorted(want_in)} and outputs {sorted(want_out)}, "
            f"but has inputs {sorted(inputs)} and outputs {sorted(outputs)}"
        )
