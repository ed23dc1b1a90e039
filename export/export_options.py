"""What one export is asked to produce, validated in one place: :class:`ExportOptions`.

    ExportOptions(graph="episode", img_size=400, shots=1, dynamic_batch=True, opset=17,
                  checkpoint_sha256=None, shots_range=None, progress=False)

graph            episode | support_encoder | query            (the contract's kinds)
img_size         H = W of the graph; None (the default): the size the model was trained at when
                 it records one (the reference model: 200), else :data:`DEFAULT_IMG_SIZE`
                 (:meth:`for_model`); valid for the backbone (checked by :meth:`check_backbone`,
                 since the backbone belongs to the model, not to the options)
shots            K, or None for a dynamic K; ``shots_range`` (MIN, MAX) is then recorded
                 for TensorRT profiles (ignored for a fixed K, as the metadata writer does)
dynamic_batch    B dynamic, else fixed at 1
opset            ai.onnx opset, :data:`MIN_OPSET`..:data:`MAX_OPSET`
checkpoint_sha256  digest of the weights' file, or "random"; None (the default): what the model
                 records (``hsnet.provenance``: the file ``load_hsnet`` read, "random" otherwise)
progress         show a progress bar while exporting

The precision is not an option of one graph: the precision stage converts the set of
graphs after these passes (``onnx_export.build_graphs``, :mod:`precision`).

Every bad value is a :class:`~hsnet_deploy.errors.UserError` raised when the options are
made, so a mistake fails before anything is traced. The contract's helpers give the
rest: :meth:`dims` (I/O dims), :meth:`axes` (dynamic axes) and :meth:`metadata`.
Torch-free: the CLI builds one before loading a model.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Optional

from ..errors import UserError
from ..runtime.graph_contract import (
    EPISODE,
    GRAPH_KINDS,
    RANDOM_CHECKPOINT,
    dynamic_axes,
    graph_metadata,
    tensor_dims,
    valid_checkpoint_digest,
)

MIN_OPSET, MAX_OPSET = 17, 20  # tested range; torch's tracer stops at 20, TensorRT 10 parses 9..24
DEFAULT_OPSET = 17
DEFAULT_IMG_SIZE = 400  # the paper's size, for a model that records none


@dataclass(frozen=True)
class ExportOptions:
    graph: str = EPISODE
    img_size: Optional[int] = None  # None: the model's trained size, else DEFAULT_IMG_SIZE (for_model)
    shots: Optional[int] = 1
    dynamic_batch: bool = True
    opset: int = DEFAULT_OPSET
    checkpoint_sha256: Optional[str] = None  # None: the model's own record (for_model)
    shots_range: Optional[tuple[int, int]] = None
    progress: bool = False

    def __post_init__(self) -> None:
        if self.shots_range is not None:  # a list from a caller becomes a (hashable) tuple
            object.__setattr__(self, "shots_range", tuple(self.shots_range))
        problem = self._problem()
        if problem:
            raise UserError(problem)
        if self.img_size is not None:
            object.__setattr__(self, "img_size", int(self.img_size))  # e.g. a numpy integer

    def _problem(self) -> str:
        if self.graph not in GRAPH_KINDS:
            return f"unknown graph kind {self.graph!r}; choose one of {', '.join(GRAPH_KINDS)}"
        if isinstance(self.opset, bool) or not isinstance(self.opset, int) or not MIN_OPSET <= self.opset <= MAX_OPSET:
            return (f"opset {self.opset} is not supported: use {MIN_OPSET}..{MAX_OPSET} "
                    "(TensorRT 10 parses 9..24; PyTorch's tracer exports up to 20)")
        if self.shots is not None and (isinstance(self.shots, bool) or not isinstance(self.shots, int) or self.shots < 1):
            return f"shots must be a positive integer or None (dynamic), got {self.shots!r}"
        if self.shots_range is not None:
            lo_hi = self.shots_range
            if len(lo_hi) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in lo_hi) or not 1 <= lo_hi[0] <= lo_hi[1]:
                return f"shots_range must be (MIN, MAX) with 1 <= MIN <= MAX, got {self.shots_range!r}"
        if self.img_size is not None and (not isinstance(self.img_size, numbers.Integral) or isinstance(self.img_size, bool)):
            return f"img_size must be an integer, got {self.img_size!r}"
        if self.checkpoint_sha256 is not None and not valid_checkpoint_digest(self.checkpoint_sha256):
            return (f"checkpoint_sha256 must be 64 lowercase hex digits or {RANDOM_CHECKPOINT!r}, "
                    f"got {self.checkpoint_sha256!r}")
        return ""

    def check_backbone(self, backbone: str) -> None:
        """UserError unless ``img_size`` gives a valid pyramid for ``backbone``."""
        from ..runtime.image_size import check_image_size  # torch-free

        check_image_size(self.img_size, self.img_size, backbone)

    def for_model(self, model) -> "ExportOptions":
        """These options with what ``model`` records filled in where unset: the checkpoint
        digest and the image size it was trained at."""
        changes: dict = {}
        if self.img_size is None:
            changes["img_size"] = getattr(model, "trained_img_size", None) or DEFAULT_IMG_SIZE
        if self.checkpoint_sha256 is None:
            from ..hsnet.provenance import checkpoint_sha256_of

            changes["checkpoint_sha256"] = checkpoint_sha256_of(model)
        return dataclasses.replace(self, **changes) if changes else self

    def for_graph(self, kind: str) -> "ExportOptions":
        """The same export, for another graph kind (the split export's three graphs)."""
        return dataclasses.replace(self, graph=kind)

    def dims(self, backbone: str) -> dict:
        """The contract's dims of this graph's I/O: name -> ints and "batch" / "shots"."""
        return tensor_dims(self.graph, backbone, self.img_size, self.shots, self.dynamic_batch)

    def axes(self) -> dict[str, dict[int, str]]:
        """The contract's dynamic axes of this graph's I/O (for ``torch.onnx.export``)."""
        return dynamic_axes(self.graph, self.shots, self.dynamic_batch)

    def metadata(self, backbone: str, exporter: str) -> dict[str, str]:
        """The contract's metadata record of this graph."""
        return graph_metadata(
            self.graph, backbone, self.img_size, self.shots, self.opset, self.checkpoint_sha256,
            self.shots_range, self.dynamic_batch, exporter=exporter,
        )
