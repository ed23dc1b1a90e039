"""What an engine build is asked for, checked before TensorRT is touched, and how the
sidecar records it.

    BuildOptions(batch=ShapeRange(1, 1, 4), shots=None, workspace_mib=2048,
                 optimization_level=3, timing_cache=Path("hsnet.cache"), dla_core=None)

``batch`` / ``shots``: the optimisation profile's dynamic axes (see :mod:`engine_profiles`);
``workspace_mib``: the builder's workspace pool limit (TensorRT's default: the GPU's
memory); ``optimization_level``: TensorRT's builder optimisation level 0..5 (default 3:
higher searches more tactics and builds longer); ``timing_cache``: a file loaded before
the build, used by it and saved after it, so later builds on the same GPU and TensorRT
skip the kernel timing; ``dla_core``: build for a Jetson DLA core with GPU fallback.

Engines are always built strongly typed: the precision is the ONNX file's (FP32, FP16
casts, INT8 Q/DQ), which is the only way TensorRT 11 has and the same file builds on 10.x.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ...errors import UserError
from .profiles import Shape, ShapeRange, format_profile
from .sidecar import (
    KEY_BUILD_DLA_CORE,
    KEY_BUILD_MAX_SHAPES,
    KEY_BUILD_MIN_SHAPES,
    KEY_BUILD_OPT_SHAPES,
    KEY_BUILD_OPTIMIZATION_LEVEL,
    KEY_BUILD_STRONGLY_TYPED,
    KEY_BUILD_TIMING_CACHE,
    KEY_BUILD_TOOL,
    KEY_BUILD_WORKSPACE_MIB,
)

OPTIMIZATION_LEVELS = range(0, 6)  # TensorRT: 0 (fastest build) .. 5; default 3


@dataclass(frozen=True)
class BuildOptions:
    batch: Optional[ShapeRange] = None
    shots: Optional[ShapeRange] = None
    workspace_mib: Optional[int] = None
    optimization_level: Optional[int] = None
    timing_cache: Optional[Path] = None
    dla_core: Optional[int] = None
    detailed_profiling: bool = True  # ProfilingVerbosity.DETAILED: the inspector shows each layer's precision

    def __post_init__(self) -> None:
        if self.workspace_mib is not None and self.workspace_mib < 1:
            raise UserError(f"--workspace must be a positive number of MiB, got {self.workspace_mib}")
        if self.optimization_level is not None and self.optimization_level not in OPTIMIZATION_LEVELS:
            raise UserError(f"--builder-optimization-level must be 0..5, got {self.optimization_level}")
        if self.dla_core is not None and self.dla_core < 0:
            raise UserError(f"--dla-core must be 0 or more, got {self.dla_core}")
        if self.timing_cache is not None:
            from ...output_paths import check_output_file

            check_output_file(self.timing_cache, "--timing-cache")  # read if present, then rewritten

    def record(self, shapes: dict[str, tuple[Shape, Shape, Shape]], tool: str = "hsnet-deploy build") -> dict[str, str]:
        """The sidecar's build keys (all strings; options not given are left out)."""
        record = {
            KEY_BUILD_TOOL: tool,
            KEY_BUILD_STRONGLY_TYPED: "true",
            KEY_BUILD_MIN_SHAPES: format_profile(shapes, 0),
            KEY_BUILD_OPT_SHAPES: format_profile(shapes, 1),
            KEY_BUILD_MAX_SHAPES: format_profile(shapes, 2),
        }
        if self.workspace_mib is not None:
            record[KEY_BUILD_WORKSPACE_MIB] = str(self.workspace_mib)
        if self.optimization_level is not None:
            record[KEY_BUILD_OPTIMIZATION_LEVEL] = str(self.optimization_level)
        if self.timing_cache is not None:
            record[KEY_BUILD_TIMING_CACHE] = Path(self.timing_cache).name
        if self.dla_core is not None:
            record[KEY_BUILD_DLA_CORE] = str(self.dla_core)
        return record
