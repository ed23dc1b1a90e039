"""The ``X.engine.json`` sidecar: what a TensorRT engine is, and what it was built for.

A serialized engine only runs with the TensorRT version that built it and on GPUs of the
compute capability it was built on. The engine builder records both next to the graph
metadata (the same ``hsnet_deploy.*`` keys as the ONNX file), as one flat JSON object of
strings:

    {"hsnet_deploy.graph": "episode", "hsnet_deploy.img_size": "400",
     "hsnet_deploy.shots": "1", ..., "hsnet_deploy.tensorrt_version": "10.3.0",
     "hsnet_deploy.gpu_name": "NVIDIA H100 80GB HBM3",
     "hsnet_deploy.compute_capability": "9.0",
     "hsnet_deploy.onnx_sha256": "...", "hsnet_deploy.build_min_shapes": "query_img:1x3x400x400,...",
     ...}

``hsnet-deploy build`` writes it with the build options; ``hsnet-deploy sidecar`` writes it
for an engine built elsewhere (JetPack's trtexec), from the ONNX file and the running
TensorRT and GPU.

Loading refuses an engine whose recorded TensorRT version or compute capability differs
from the running ones (the GPU name is informational: same capability, same kernels).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping, Optional

from ...atomic_file import write_text_atomic
from ...errors import UserError
from ..graph_contract import PREFIX

KEY_TENSORRT_VERSION = PREFIX + "tensorrt_version"
KEY_GPU_NAME = PREFIX + "gpu_name"
KEY_COMPUTE_CAPABILITY = PREFIX + "compute_capability"
KEY_ONNX_SHA256 = PREFIX + "onnx_sha256"  # the ONNX file the engine was built from
KEY_ONNX_FILE = PREFIX + "onnx_file"  # its name (informational)
# how it was built (export.build_options): tool, typing, the optimisation profile in
# trtexec's spelling (name:1x3x400x400,...), and the options given
KEY_BUILD_TOOL = PREFIX + "build_tool"
KEY_BUILD_STRONGLY_TYPED = PREFIX + "build_strongly_typed"
KEY_BUILD_MIN_SHAPES = PREFIX + "build_min_shapes"
KEY_BUILD_OPT_SHAPES = PREFIX + "build_opt_shapes"
KEY_BUILD_MAX_SHAPES = PREFIX + "build_max_shapes"
KEY_BUILD_WORKSPACE_MIB = PREFIX + "build_workspace_mib"
KEY_BUILD_OPTIMIZATION_LEVEL = PREFIX + "build_optimization_level"
KEY_BUILD_TIMING_CACHE = PREFIX + "build_timing_cache"
KEY_BUILD_DLA_CORE = PREFIX + "build_dla_core"


def sidecar_path(engine_path: str | os.PathLike) -> Path:
    """``X.engine`` -> ``X.engine.json``."""
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + ".json")


def format_capability(capability: tuple[int, int]) -> str:
    return f"{int(capability[0])}.{int(capability[1])}"


def sidecar_record(
    graph_metadata: Mapping[str, str],
    tensorrt_version: str,
    gpu_name: str,
    compute_capability: tuple[int, int],
    extra: Optional[Mapping[str, str]] = None,
) -> dict[str, str]:
    """Graph metadata + build environment (+ extra), every value a string."""
    record = {str(k): str(v) for k, v in graph_metadata.items()}
    record.update({str(k): str(v) for k, v in (extra or {}).items()})
    record[KEY_TENSORRT_VERSION] = str(tensorrt_version)
    record[KEY_GPU_NAME] = str(gpu_name)
    record[KEY_COMPUTE_CAPABILITY] = format_capability(compute_capability)
    return record


def sidecar_text(record: Mapping[str, str]) -> str:
    return json.dumps(dict(record), indent=2, sort_keys=True) + "\n"


def write_engine_sidecar(
    engine_path: str | os.PathLike,
    graph_metadata: Mapping[str, str],
    tensorrt_version: str,
    gpu_name: str,
    compute_capability: tuple[int, int],
    extra: Optional[Mapping[str, str]] = None,
) -> Path:
    """Write ``X.engine.json`` atomically: graph metadata + build environment (+ extra)."""
    record = sidecar_record(graph_metadata, tensorrt_version, gpu_name, compute_capability, extra)
    path = sidecar_path(engine_path)
    write_text_atomic(path, sidecar_text(record))
    return path


def read_engine_sidecar(engine_path: str | os.PathLike) -> dict[str, str]:
    """The sidecar's record; UserError if it is missing or not a JSON object of strings."""
    path = sidecar_path(engine_path)
    if not path.is_file():
        raise UserError(
            f"{engine_path} has no sidecar {path.name} recording its TensorRT version and GPU; "
            "build engines with `hsnet-deploy build` (which writes it)"
        )
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"cannot read engine sidecar {path}: {err}") from None
    if not isinstance(record, dict) or not all(isinstance(v, str) for v in record.values()):
        raise UserError(f"engine sidecar {path} must be a JSON object of strings")
    return record


def check_engine_compatibility(
    record: Mapping[str, str],
    tensorrt_version: str,
    compute_capability: tuple[int, int],
    engine_path: str | os.PathLike,
) -> None:
    """UserError unless the engine was built by this TensorRT for this GPU architecture."""
    built_trt = record.get(KEY_TENSORRT_VERSION)
    built_cc = record.get(KEY_COMPUTE_CAPABILITY)
    if built_trt is None or built_cc is None:
        raise UserError(f"engine sidecar {sidecar_path(engine_path)} lacks the TensorRT version or compute capability")
    if built_trt != str(tensorrt_version):
        raise UserError(
            f"engine {engine_path} was built with TensorRT {built_trt} but this is TensorRT "
            f"{tensorrt_version}; rebuild the engine with this TensorRT"
        )
    here = format_capability(compute_capability)
    if built_cc != here:
        gpu = record.get(KEY_GPU_NAME, "another GPU")
        raise UserError(
            f"engine {engine_path} was built for compute capability {built_cc} ({gpu}) but this GPU "
            f"is compute capability {here}; rebuild the engine on this GPU"
        )
