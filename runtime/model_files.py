"""Which backend and which graph files a model path stands for.

    NAME.onnx                      ONNX Runtime, episode graph; but if NAME.support.onnx
                                   and NAME.query.onnx lie beside it, the split pair
    NAME.support.onnx / NAME.query.onnx
                                   the split pair (both must exist)
    NAME.engine (or .plan)         TensorRT, with the same split rule
                                   (NAME.support.engine / NAME.query.engine)
    NAME.pt (or .pth)              PyTorch checkpoint: one model serves every graph kind

The split pair is preferred whenever it exists because it lets a support set be encoded
once and reused for many queries. The naming rule is the graph contract's
(:func:`~hsnet_deploy.runtime.graph_contract.split_paths`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .graph_contract import EPISODE, QUERY, SUPPORT_ENCODER, split_paths, split_tag_of

BACKEND_BY_SUFFIX = {
    ".onnx": "onnxruntime",
    ".engine": "tensorrt",
    ".plan": "tensorrt",
    ".pt": "torch",
    ".pth": "torch",
}
ENGINE_SUFFIXES = tuple(s for s, backend in BACKEND_BY_SUFFIX.items() if backend == "tensorrt")


@dataclass(frozen=True)
class ModelFiles:
    backend: str  # "onnxruntime" | "tensorrt" | "torch"
    paths: dict  # graph kind -> Path: {"episode": p} or {"support_encoder": p, "query": p}
    episode_beside: Path | None = None  # with a split pair: the episode graph next to it, if any

    @property
    def is_split(self) -> bool:
        return EPISODE not in self.paths


REFERENCE = "reference"  # the PyTorch model shipped with the package (hsnet.reference_model)


def resolve_model_files(path: str | os.PathLike) -> ModelFiles:
    """The backend and graph files for ``path``; UserError if missing or of unknown type.

    ``"reference"`` (when no such file exists) is the shipped PyTorch reference model.
    """
    if str(path) == REFERENCE and not Path(path).exists():
        return ModelFiles("torch", {EPISODE: REFERENCE})
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
    named = split_paths(path)
    support, query = named[SUPPORT_ENCODER], named[QUERY]
    if split_tag_of(path) is not None:
        for partner in (support, query):
            if not partner.is_file():
                raise UserError(f"{path} is one half of a split export; its partner {partner} is missing")
        episode = named[EPISODE] if named[EPISODE].is_file() else None
        return ModelFiles(backend, {SUPPORT_ENCODER: support, QUERY: query}, episode)
    if support.is_file() and query.is_file():
        return ModelFiles(backend, {SUPPORT_ENCODER: support, QUERY: query}, path)
    return ModelFiles(backend, {EPISODE: path})
