"""ONNX Runtime's TensorRT execution provider: a second path from an .onnx file to TensorRT.

onnxruntime-gpu builds the TensorRT engines itself (the parts TensorRT cannot run go to
the CUDA EP, then the CPU) and caches them in a folder, so the second session starts in
seconds. Its provider options, all strings, come from the graph's metadata alone:

    trt_engine_cache_enable = "True"    trt_engine_cache_path = DIR
    trt_timing_cache_enable = "True"    trt_timing_cache_path = DIR   (timing_cache=True)
    trt_profile_{min,opt,max}_shapes = "query_img:1x3x400x400,support_imgs:1x1x3x400x400,..."
        from export.engine_profiles.profile_shapes (the loader gives it the file's declared
        input dims, as the builder does): builder, trtexec and this EP cannot differ; a
        fixed axis gives min == opt == max
    trt_max_workspace_size = workspace_mib * 2**20 (bytes)           when given
    trt_builder_optimization_level = 0..5                             when given
    trt_dla_enable = "True", trt_dla_core = N                         when given

Precision comes from the file (FP16 casts, INT8 Q/DQ), never from a flag.
ONNX Runtime's "TensorRT Execution Provider" page,
https://onnxruntime.ai/docs/execution-providers/TensorRT-ExecutionProvider.html, lists only
``trt_fp16_enable`` / ``trt_int8_enable`` ("Enable FP16/INT8 mode in TensorRT", default off;
no calibration table for Q/DQ models), and no strongly-typed option. The EP itself
(microsoft/onnxruntime#24298) builds a strongly typed TensorRT 10 network when both flags
are off, so the file's casts and Q/DQ types decide each layer's precision (TensorRT 11
networks are always strongly typed). ``trt_fp16_enable`` would drop strong typing and let
TensorRT put FP16 anywhere, the islands the exporter kept in FP32 included; so both flags
are "False", explicitly. (Older EPs build weakly typed networks: an INT8 Q/DQ file then
fails to build, "int8 is not configured in the builder", onnxruntime#13381.)
"""

from __future__ import annotations

from typing import Optional

from ...errors import UserError
from ..graph_contract import GraphInfo
from ..tensorrt.profiles import Shape, format_profile, profile_shapes

TENSORRT_EP = "TensorrtExecutionProvider"
FALLBACK_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")  # what TensorRT cannot run
OPTIMIZATION_LEVELS = range(0, 6)  # trt_builder_optimization_level (TensorRT's default: 3)
MIB = 1 << 20
ProfileShapes = dict[str, tuple[Shape, Shape, Shape]]


def _positive(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{what} must be a positive integer, got {value!r}")
    return value


def tensorrt_provider_options(
    info: GraphInfo,
    cache_dir: str,
    shapes: Optional[ProfileShapes] = None,
    workspace_mib: Optional[int] = None,
    optimization_level: Optional[int] = None,
    timing_cache: bool = True,
    dla_core: Optional[int] = None,
) -> dict[str, str]:
    """The TensorRT EP's provider options for the graph ``info`` describes (see the module
    docstring); ``shapes``: input -> (min, opt, max), default ``profile_shapes(info)``."""
    shapes = profile_shapes(info) if shapes is None else shapes
    options = {
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": str(cache_dir),
        "trt_fp16_enable": "False",  # precision from the file: a strongly typed network
        "trt_int8_enable": "False",
        "trt_profile_min_shapes": format_profile(shapes, 0),
        "trt_profile_opt_shapes": format_profile(shapes, 1),
        "trt_profile_max_shapes": format_profile(shapes, 2),
    }
    if timing_cache:
        options.update(trt_timing_cache_enable="True", trt_timing_cache_path=str(cache_dir))
    if workspace_mib is not None:
        options["trt_max_workspace_size"] = str(_positive(workspace_mib, "the TensorRT workspace (MiB)") * MIB)
    if optimization_level is not None:
        if isinstance(optimization_level, bool) or optimization_level not in OPTIMIZATION_LEVELS:
            raise UserError(f"the TensorRT builder optimization level must be 0..5, got {optimization_level!r}")
        options["trt_builder_optimization_level"] = str(optimization_level)
    if dla_core is not None:
        if isinstance(dla_core, bool) or not isinstance(dla_core, int) or dla_core < 0:
            raise UserError(f"the DLA core must be 0 or more, got {dla_core!r}")
        options.update(trt_dla_enable="True", trt_dla_core=str(dla_core))
    return options


def tensorrt_providers(options: dict[str, str]) -> list:
    """onnxruntime's ``providers``: TensorRT with ``options`` first, then CUDA, then CPU."""
    return [(TENSORRT_EP, dict(options)), *FALLBACK_PROVIDERS]
