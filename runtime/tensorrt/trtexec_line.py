"""The trtexec command line equivalent to ``hsnet-deploy build``, for users who build with
JetPack's own trtexec (``/usr/src/tensorrt/bin/trtexec``), and its way back.

    trtexec --onnx=hsnet.query.onnx --saveEngine=hsnet.query.engine --stronglyTyped
            --minShapes=query_img:1x3x400x400,support_c3:1x1x3x2048x13x13,...
            --optShapes=... --maxShapes=...
            [--memPoolSize=workspace:2048] [--builderOptimizationLevel=3]
            [--timingCacheFile=hsnet.cache] [--useDLACore=0 --allowGPUFallback]
            --profilingVerbosity=detailed --skipInference

``--stronglyTyped`` is what TensorRT 10.x (JetPack) needs for FP16 / Q/DQ files; the
TensorRT 11 trtexec migration page says it is no longer needed there (strong typing is
always on) and that ``--fp16`` / ``--int8`` / ``--best`` are removed, so none of those is
printed. The workspace is in MiB, ``--memPoolSize``'s default unit (8.x's ``--workspace``
is gone since 10.0). The shapes are the builder's (:func:`engine_profiles.profile_shapes`); shapes are given
only when the graph has a dynamic axis (trtexec refuses them for a static graph). An
engine built so has no sidecar: ``hsnet-deploy sidecar ENGINE --onnx ONNX`` records the
running TensorRT version and GPU beside it, and the runtime then loads it.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Sequence

from ..graph_contract import GraphInfo
from .build_options import BuildOptions
from .profiles import Shape, format_profile, parse_profile

SHAPE_FLAGS = ("--minShapes", "--optShapes", "--maxShapes")


def trtexec_arguments(
    onnx: Path,
    engine: Path,
    info: GraphInfo,
    shapes: dict[str, tuple[Shape, Shape, Shape]],
    options: BuildOptions,
    trtexec: str = "trtexec",
) -> list[str]:
    """argv of the trtexec build of ``onnx`` into ``engine``."""
    argv = [trtexec, f"--onnx={onnx}", f"--saveEngine={engine}", "--stronglyTyped"]
    if info.batch is None or info.shots is None:  # a dynamic axis: give the profile
        argv += [f"{flag}={format_profile(shapes, i)}" for i, flag in enumerate(SHAPE_FLAGS)]
    if options.workspace_mib is not None:
        argv.append(f"--memPoolSize=workspace:{options.workspace_mib}")  # MiB, trtexec's default unit
    if options.optimization_level is not None:
        argv.append(f"--builderOptimizationLevel={options.optimization_level}")
    if options.timing_cache is not None:
        argv.append(f"--timingCacheFile={options.timing_cache}")
    if options.dla_core is not None:
        argv += [f"--useDLACore={options.dla_core}", "--allowGPUFallback"]
    if options.detailed_profiling:
        argv.append("--profilingVerbosity=detailed")
    argv.append("--skipInference")
    return argv


def sidecar_arguments(engine: Path, onnx: Path) -> list[str]:
    """argv of the step that makes a trtexec-built engine loadable."""
    return ["hsnet-deploy", "sidecar", str(engine), "--onnx", str(onnx)]


def format_command(argv: Sequence[str]) -> str:
    return shlex.join(list(argv))


def shapes_of_command(line: str) -> dict[str, tuple[Shape, Shape, Shape]]:
    """The optimisation profile a trtexec command line asks for (input -> min, opt, max)."""
    values = {}
    for token in shlex.split(line):
        flag, _, value = token.partition("=")
        if flag in SHAPE_FLAGS:
            values[flag] = parse_profile(value)
    if not values:
        return {}
    lo, opt, hi = (values[flag] for flag in SHAPE_FLAGS)
    return {name: (lo[name], opt[name], hi[name]) for name in lo}
