"""Which backend and which graph files a model path stands for (the "loader" side).

    NAME.onnx                      ONNX Runtime, episode graph; but if NAME.support.onnx
                                   and NAME.query.onnx lie beside it, the split pair
    NAME.support.onnx / NAME.query.onnx
                                   the split pair (both must exist)
    NAME.engine (or .plan)         TensorRT, with the same split rule
                                   (NAME.support.engine / NAME.query.engine)
    NAME.pt (or .pth)              PyTorch checkpoint: one model serves every graph kind

The split pair is preferred whenever it exists because it lets a support set be encoded
once and reused for many queries.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import UserError
from .graph_metadata import EPISODE, QUERY, SUPPORT_ENCODER

BACKEND_BY_SUFFIX = {
    ".onnx": "onnxruntime",
    ".engine": "tensorrt",
    ".plan": "tensorrt",
    ".pt": "torch",
    ".pth": "torch",
}
SPLIT_TAGS = {".support": SUPPORT_ENCODER, ".query": QUERY}  # NAME<tag><suffix>


@dataclass(frozen=True)
class ModelFiles:
    backend: str  # "onnxruntime" | "tensorrt" | "torch"
    paths: dict  # graph kind -> Path: {"episode": p} or {"support_encoder": p, "query": p}

    @property
    def is_split(self) -> bool:
        return EPISODE not in self.paths


def split_partners(path: Path) -> Optional[tuple[Path, Path]]:
    """(support, query) paths beside ``path`` named by the split rule."""
    suffix = path.suffix
    stem = path.name[: -len(suffix)]
    for tag in SPLIT_TAGS:
        if stem.endswith(tag):
            stem = stem[: -len(tag)]
            break
    return path.with_name(f"{stem}.support{suffix}"), path.with_name(f"{stem}.query{suffix}")


def resolve_model_files(path: str | os.PathLike) -> ModelFiles:
    """The backend and graph files for ``path``; UserError if missing or of unknown type."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"model not found: {path}")
    if not path.is_file():
        raise UserError(f"model is not a file: {path}")
    backend = BACKEND_BY_SUFFIX.get(path.suffix.lower())
    if backend is None:
        known = ", ".join(sorted(BACKEND_BY_SUFFIX))
        raise UserError(f"unknown model file type '{path.suffix or path.name}' for {path} (expected {known})")
    if backend == "torch":
        return ModelFiles(backend, {EPISODE: path})
    support, query = split_partners(path)
    tag = path.name[: -len(path.suffix)]
    named_split = any(tag.endswith(t) for t in SPLIT_TAGS)
    if named_split:
        for partner in (support, query):
            if not partner.is_file():
                raise UserError(f"{path} is one half of a split export; its partner {partner} is missing")
        return ModelFiles(backend, {SUPPORT_ENCODER: support, QUERY: query})
    if support.is_file() and query.is_file():
        return ModelFiles(backend, {SUPPORT_ENCODER: support, QUERY: query})
    return ModelFiles(backend, {EPISODE: path})
