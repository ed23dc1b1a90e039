"""ONNX -> TensorRT engine, with the TensorRT Python API (10.x and 11.x).

    network = builder.create_network(flags)        flags = 1 << STRONGLY_TYPED on 10.x,
                                                   0 on 11.x (strong typing is always on)
    OnnxParser(network, logger).parse_from_file(onnx)
    profile.set_shape(input, min, opt, max)        per input, from the graph's metadata
    config: WORKSPACE pool limit, builder_optimization_level, profiling_verbosity DETAILED,
            timing cache (create_timing_cache(bytes) / set_timing_cache / serialize),
            progress_monitor, DLA (default_device_type, DLA_core, GPU_FALLBACK)
    builder.build_serialized_network(network, config) -> plan bytes

Strongly typed means TensorRT keeps the ONNX file's types: an FP16 export runs FP16
kernels, an INT8 Q/DQ export INT8 kernels, an FP32 export FP32 (TF32 where allowed); no
precision flag is set, which TensorRT 11 no longer has (its migration guide: FP16 and
INT8 builder flags and calibrators are removed; strong typing is always enforced).

Every TensorRT object is typed with the classes of TensorRT's Python API, so mypy
checks each call against ``tensorrt-stubs`` (tests/test_tensorrt_typing.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Optional, Sequence

from ...errors import UserError
from ..graph_contract import GRAPH_INPUTS, Dim, GraphInfo
from .build_options import BuildOptions
from .loader import import_tensorrt, tensorrt_major
from .profiles import Shape, profile_shapes

if TYPE_CHECKING:  # pragma: no cover - types only
    import tensorrt as trt

ProgressFactory = Callable[[str, int], "PhaseBar"]


@dataclass
class BuiltEngine:
    plan: bytes
    shapes: dict[str, tuple[Shape, Shape, Shape]]
    tensorrt_version: str
    timing_cache: Optional[bytes]  # the cache after the build (to be saved), when one was given


class PhaseBar:
    """What the progress monitor drives: a tqdm-like bar per top-level phase."""

    def update(self, n: int) -> None: ...  # pragma: no cover - interface

    def set_postfix_str(self, text: str) -> None: ...  # pragma: no cover - interface

    def close(self) -> None: ...  # pragma: no cover - interface


def tqdm_phase_bar(name: str, total: int) -> PhaseBar:
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc=f"build: {name}", unit="step", file=sys.stderr, leave=False)  # type: ignore[return-value]


def network_flags(major: int) -> int:
    """create_network's flags: STRONGLY_TYPED on 10.x; 11.x is always strongly typed."""
    import tensorrt as trt

    if major >= 11:
        return 0
    return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)


def parser_errors(parser: "trt.OnnxParser", source: str) -> UserError:
    """Every ONNX parser error on its own line, with the failing node."""
    lines = []
    for i in range(parser.num_errors):
        error = parser.get_error(i)
        node = error.node()
        where = f"node {node}" if node >= 0 else "graph"
        name, op = error.node_name(), error.node_operator()
        if name or op:
            where += f" ({name or '?'}: {op or '?'})"
        lines.append(f"  {where}: {error.desc()}")
    count = len(lines)
    head = f"TensorRT's ONNX parser rejected {source} ({count} error{'s' if count != 1 else ''}):"
    return UserError("\n".join([head] + lines))


def make_progress_monitor(bars: ProgressFactory) -> "trt.IProgressMonitor":
    """An IProgressMonitor showing each top-level build phase as a bar (thread-safe)."""
    import tensorrt as trt

    class BuildProgress(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._lock = threading.Lock()
            self._bars: dict[str, PhaseBar] = {}
            self._top: dict[str, str] = {}  # phase -> its top-level phase

        def phase_start(self, phase_name: str, parent_phase: Optional[str], num_steps: int) -> None:
            with self._lock:
                if parent_phase is None or parent_phase not in self._top:
                    self._top[phase_name] = phase_name
                    self._bars[phase_name] = bars(phase_name, num_steps)
                else:
                    top = self._top[parent_phase]
                    self._top[phase_name] = top
                    self._bars[top].set_postfix_str(phase_name)

        def step_complete(self, phase_name: str, step: int) -> bool:
            with self._lock:
                if phase_name in self._bars:
                    self._bars[phase_name].update(1)
            return True  # never cancel

        def phase_finish(self, phase_name: str) -> None:
            with self._lock:
                bar = self._bars.pop(phase_name, None)
                self._top.pop(phase_name, None)
                if bar is not None:
                    bar.close()

    return BuildProgress()


def check_dla(builder: "trt.Builder", version: str, dla_core: int) -> None:
    """UserError unless this TensorRT and device have DLA core ``dla_core``.

    The builder's own core count decides: NVIDIA's docs disagree across releases (the
    TensorRT 11.0-11.3 Jetson pages call 10.7 the last release with DLA; 11.4.1 brings it
    back on AGX Orin with JetPack 7.2.2+), so no version is refused by number."""
    cores = int(builder.num_DLA_cores)
    if cores == 0:
        raise UserError(
            f"--dla-core {dla_core}: TensorRT {version} reports no DLA cores on this device "
            "(DLA exists on Jetson AGX Orin and Orin NX, with the TensorRT releases that support it)"
        )
    if dla_core >= cores:
        raise UserError(f"--dla-core {dla_core}: this device has DLA cores 0..{cores - 1}")


def use_timing_cache(config: "trt.IBuilderConfig", data: bytes, path: Path) -> "trt.ITimingCache":
    """Give the build the timing cache ``data`` (b"": a new, empty one) read from ``path``."""
    cache = config.create_timing_cache(data)
    if cache is None:
        raise UserError(f"--timing-cache {path}: TensorRT cannot read it (corrupt, or not a timing cache)")
    if not config.set_timing_cache(cache, False):  # ignore_mismatch=False: refuse a foreign cache
        raise UserError(
            f"--timing-cache {path} was made by another TensorRT or GPU; give a new file or delete it"
        )
    return cache


def build_serialized(
    onnx_path: Path,
    info: GraphInfo,
    options: BuildOptions,
    bars: Optional[ProgressFactory] = tqdm_phase_bar,
    timing_cache: Optional[bytes] = None,
    input_dims: Optional[Mapping[str, Sequence[Dim]]] = None,
) -> BuiltEngine:
    """Build one engine from ``onnx_path`` (whose metadata is ``info``); nothing is written.

    ``timing_cache``: the cache's bytes (b"" for a new one) when ``options.timing_cache``
    names a file; the updated cache comes back in the result. ``input_dims``: the ONNX
    file's declared input dims (see :func:`engine_profiles.profile_shapes`)."""
    import_tensorrt()  # UserError when TensorRT is missing
    import tensorrt as trt

    major = tensorrt_major(trt.__version__)
    shapes = profile_shapes(info, options.batch, options.shots, input_dims)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    if options.dla_core is not None:
        check_dla(builder, str(trt.__version__), options.dla_core)
    network = builder.create_network(network_flags(major))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        raise parser_errors(parser, str(onnx_path))
    names = tuple(network.get_input(i).name for i in range(network.num_inputs))
    if set(names) != set(GRAPH_INPUTS[info.kind]):
        raise UserError(f"{onnx_path}: the parsed network's inputs {sorted(names)} are not a '{info.kind}' graph's")

    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in shapes.items():
        profile.set_shape(name, trt.Dims(list(lo)), trt.Dims(list(opt)), trt.Dims(list(hi)))
    if config.add_optimization_profile(profile) < 0:
        raise UserError(f"{onnx_path}: TensorRT rejected the optimisation profile {shapes}")
    if options.workspace_mib is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib << 20)
    if options.optimization_level is not None:
        config.builder_optimization_level = options.optimization_level
    if options.detailed_profiling:
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    if options.dla_core is not None:
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = options.dla_core
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    cache = None
    if options.timing_cache is not None:
        cache = use_timing_cache(config, timing_cache or b"", options.timing_cache)
    monitor = make_progress_monitor(bars) if bars is not None else None
    if monitor is not None:
        config.progress_monitor = monitor  # must outlive the build: held in `monitor`
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise UserError(f"TensorRT could not build an engine from {onnx_path} (its log above says why)")
    saved = bytes(config.get_timing_cache().serialize()) if cache is not None else None
    return BuiltEngine(bytes(plan), shapes, str(trt.__version__), saved)
