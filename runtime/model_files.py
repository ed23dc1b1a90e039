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

Every command that takes a model file checks its set the same way, before any work:
:func:`check_split_set` reads each graph's metadata (the ONNX header, or an engine's
sidecar) and refuses a support encoder, query graph or episode graph that come from
different exports (another checkpoint, size, K, batch or backbone); :func:`input_set`
is every file of the set, which no command may write over.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Union

from ..errors import UserError
from .graph_contract import (
    EPISODE,
    QUERY,
    SUPPORT_ENCODER,
    GraphInfo,
    split_paths,
    split_tag_of,
)

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
    infos: dict = field(default_factory=dict, compare=False)  # kind -> GraphInfo, once checked

    @property
    def is_split(self) -> bool:
        return EPISODE not in self.paths

    def graph_files(self) -> dict[str, Path]:
        """Graph kind -> file of every graph of the set, the episode graph beside a pair included."""
        if self.backend == "torch":
            return {}
        files = {kind: Path(p) for kind, p in self.paths.items()}
        if self.episode_beside is not None:
            files[EPISODE] = Path(self.episode_beside)
        return files


REFERENCE = "reference"  # the PyTorch model shipped with the package (hsnet.reference_model)


def resolve_model_files(path: str | os.PathLike) -> ModelFiles:
    """The backend and graph files for ``path``; UserError if missing, of unknown type, or
    a split set whose graphs come from different exports (:func:`check_split_set`).

    ``"reference"`` (when no such file exists) is the shipped PyTorch reference model.
    """
    if str(path) == REFERENCE and not Path(path).exists():
        return ModelFiles("torch", {EPISODE: REFERENCE})
    path = Path(path)
    check_input_file(path, "model")
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
        files = ModelFiles(backend, {SUPPORT_ENCODER: support, QUERY: query}, episode)
    elif support.is_file() and query.is_file():
        files = ModelFiles(backend, {SUPPORT_ENCODER: support, QUERY: query}, path)
    else:
        return ModelFiles(backend, {EPISODE: path})
    return replace(files, infos=check_split_set(files))


def backend_of(model: Union[str, os.PathLike]) -> Optional[str]:
    """The backend a MODEL argument names by its spelling alone ('reference' is torch), or None."""
    if str(model) == REFERENCE and not Path(model).exists():
        return "torch"
    return BACKEND_BY_SUFFIX.get(Path(model).suffix.lower())


def check_input_file(path: Union[str, os.PathLike], what: str) -> Path:
    """UserError unless ``path`` is an existing, non-empty file: "not found", "is a folder", "is an empty file"."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{what} not found: {path}")
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder, not a file")
    if not path.is_file():
        raise UserError(f"{what} {path} is not a regular file")
    if path.stat().st_size == 0:
        raise UserError(f"{what} {path} is an empty file")
    return path


def graph_info(path: Union[str, os.PathLike], backend: str) -> GraphInfo:
    """The recorded metadata of one graph file: an ONNX header, or an engine's sidecar."""
    if backend == "tensorrt":
        from .tensorrt.sidecar import read_engine_sidecar

        return GraphInfo.from_metadata(read_engine_sidecar(path), str(path))
    from .loaders import onnx_header

    metadata, _ = onnx_header(path, str(path))
    return GraphInfo.from_metadata(metadata, str(path))


def check_split_set(files: ModelFiles) -> dict[str, GraphInfo]:
    """Kind -> GraphInfo of every graph in ``files``, after checking that each file holds the
    graph its name says and that all come from one export (one UserError line otherwise)."""
    if files.infos:
        return dict(files.infos)
    infos: dict[str, GraphInfo] = {}
    for kind, path in files.graph_files().items():
        info = graph_info(path, files.backend)
        info.require_kind(kind)
        infos[kind] = info
    ordered = [infos[k] for k in (SUPPORT_ENCODER, QUERY, EPISODE) if k in infos]
    for other in ordered[1:]:
        ordered[0].check_same_export(other)
    return infos


def input_set(path: Union[str, os.PathLike]) -> list[Path]:
    """Every existing file of the export ``path`` belongs to (a split export is three files,
    an engine has its sidecar): what a command reading ``path`` must never write over."""
    from .tensorrt.sidecar import sidecar_path

    path = Path(path)
    files = [p for p in split_paths(path).values() if p.is_file()]
    if path.is_file() and path not in files:
        files.append(path)
    if BACKEND_BY_SUFFIX.get(path.suffix.lower()) == "tensorrt":
        files += [sidecar_path(p) for p in list(files) if sidecar_path(p).is_file()]
    return files
