"""ONNX files -> engine files + sidecars, all written together or not at all.

    build_engines("hsnet.onnx", options)          -> hsnet.support.engine + hsnet.query.engine
                                                     when the split pair lies beside it
                                                     (what the runtime opens), else hsnet.engine
    build_engines("hsnet.onnx", options, graphs="episode")   -> hsnet.engine
    build_engines("hsnet.onnx", options, output="out/m.plan") -> out/m.support.plan, ...

Which ONNX files a path stands for is the runtime's rule (``model_files``), the engine
names follow the graph contract's split naming. Every engine and sidecar (and the timing
cache) goes to a temporary file first; they are renamed into place only after the last
build succeeded, so a failed build leaves nothing behind and clobbers nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Union

from ...atomic_file import atomic_paths
from ...errors import UserError
from ...file_digest import sha256_of_file
from ...output_paths import check_output_file
from ..backends import select_graphs
from ..graph_contract import GRAPH_KINDS, Dim, GraphInfo, split_paths
from ..loaders import onnx_header
from ..model_files import ENGINE_SUFFIXES, input_set, resolve_model_files
from .build_options import BuildOptions
from .builder import BuiltEngine, ProgressFactory, build_serialized, tqdm_phase_bar
from .loader import import_tensorrt
from .sidecar import (
    KEY_ONNX_FILE,
    KEY_ONNX_SHA256,
    sidecar_path,
    sidecar_record,
    sidecar_text,
)


@dataclass(frozen=True)
class OnnxHeader:
    """What the builder needs from an ONNX file: its metadata and declared input dims."""

    metadata: dict[str, str]
    input_dims: dict[str, list[Dim]]  # ints, or the names of dynamic dims ("batch", "shots")


def read_onnx_header(path: Path) -> OnnxHeader:
    """Metadata and input dims of an ONNX file (the runtime's reader; weights not loaded)."""
    metadata, dims = onnx_header(path, str(path))
    return OnnxHeader(metadata, dims)


def onnx_graphs(onnx_path: Union[str, os.PathLike], graphs: str = "auto") -> dict[str, Path]:
    """Graph kind -> ONNX file to build, by the runtime's rule."""
    files = resolve_model_files(onnx_path)
    if files.backend != "onnxruntime":
        raise UserError(f"build takes an .onnx file, got {onnx_path}")
    return {kind: Path(p) for kind, p in select_graphs(files, graphs).items()}


def engine_paths(onnx: Mapping[str, Path], output: Optional[Union[str, os.PathLike]]) -> dict[str, Path]:
    """Graph kind -> engine path: ``output`` (default: the ONNX name with .engine), split-named."""
    first = next(iter(onnx.values()))
    target = Path(output) if output is not None else first.with_suffix(".engine")
    if target.suffix.lower() not in ENGINE_SUFFIXES:
        raise UserError(f"-o {target}: an engine file name ends in .engine or .plan")
    named = split_paths(target)
    targets = {kind: named[kind] for kind in GRAPH_KINDS if kind in onnx}
    inputs = [p for path in onnx.values() for p in input_set(path)]
    for path in targets.values():  # each engine and its sidecar, before the minutes of building
        check_output_file(path, "-o", ENGINE_SUFFIXES, inputs)
        check_output_file(sidecar_path(path), "-o", inputs=inputs)
    return targets


def gpu_of(memory: str) -> tuple[str, tuple[int, int]]:
    """(GPU name, compute capability) of the device engines are built for."""
    from .cuda_memory import open_device_memory

    device = open_device_memory(memory)
    try:
        return device.gpu()
    finally:
        device.close()


def build_engines(
    onnx_path: Union[str, os.PathLike],
    options: BuildOptions = BuildOptions(),
    output: Optional[Union[str, os.PathLike]] = None,
    graphs: str = "auto",
    memory: str = "auto",
    bars: Optional[ProgressFactory] = tqdm_phase_bar,
) -> dict[str, Path]:
    """Build every graph ``onnx_path`` stands for; returns kind -> engine path written."""
    onnx = onnx_graphs(onnx_path, graphs)  # the files and the outputs first: they need no TensorRT
    targets = engine_paths(onnx, output)
    import_tensorrt()  # then a missing TensorRT, before anything is read or built
    headers = {kind: read_onnx_header(p) for kind, p in onnx.items()}
    infos = {kind: GraphInfo.from_metadata(h.metadata, str(onnx[kind])) for kind, h in headers.items()}
    for kind, info in infos.items():
        info.require_kind(kind)
    gpu_name, capability = gpu_of(memory)
    cache_file = Path(options.timing_cache) if options.timing_cache is not None else None
    cache = cache_file.read_bytes() if cache_file is not None and cache_file.is_file() else b""
    built: dict[str, BuiltEngine] = {}
    for kind, path in onnx.items():
        built[kind] = build_serialized(path, infos[kind], options, bars, cache, headers[kind].input_dims)
        cache = built[kind].timing_cache or cache  # the next graph reuses what this one timed
    contents: dict[Path, bytes] = {}
    for kind, target in targets.items():
        engine = built[kind]
        contents[target] = engine.plan
        extra = {KEY_ONNX_SHA256: sha256_of_file(onnx[kind]), KEY_ONNX_FILE: onnx[kind].name}
        extra.update(options.record(engine.shapes))
        record = sidecar_record(infos[kind].metadata, engine.tensorrt_version, gpu_name, capability, extra)
        contents[sidecar_path(target)] = sidecar_text(record).encode("utf-8")
    if cache_file is not None:
        contents[cache_file] = cache
    with atomic_paths({path: path for path in contents}) as temps:  # every file renamed into place together
        for path, tmp in temps.items():
            tmp.write_bytes(contents[path])
    return targets
