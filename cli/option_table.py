"""Which option applies to which model, backend and mode: one declarative table for every command.

``cli.main`` finds the options a user actually typed and refuses, in one line and exit 2
before any work, one whose row says it does not apply here (:mod:`hsnet_deploy.option_rules`).
An option nobody typed is never refused, so defaults keep working. The predicates read only
the parsed command line; each row's sentence completes "--X applies only ...".
"""

from __future__ import annotations

from ..option_rules import Applies
from ..runtime.model_files import backend_of


# ---- predicates over the parsed command line ------------------------------------------------
def _backend_is(*backends: str):
    return lambda a: backend_of(a.model) in backends


def _any_onnx(models_of):
    return lambda a: any(backend_of(m) == "onnxruntime" for m in models_of(a))


def _any_torch(models_of):
    return lambda a: any(backend_of(m) == "torch" for m in models_of(a))


def _engines(a) -> bool:
    return bool(a.models) and all(backend_of(m) == "tensorrt" for m in a.models)


def wants_int8(a) -> bool:
    return "int8" in (a.precision, a.support_precision)


FILE_BENCHMARKS = ("folder", "pascal", "coco", "fss")
SPLIT_LIST_BENCHMARKS = ("pascal", "coco", "fss")
FOLD_BENCHMARKS = ("pascal", "coco")


# ---- shared rows ----------------------------------------------------------------------------
def _onnx_backend(models_of):
    return (
        Applies(("--onnx-backend",), _any_onnx(models_of), "to .onnx models"),
        Applies(("--openvino-device", "--openvino-precision", "--openvino-cache"), lambda a: a.onnx_backend == "openvino",
                "with --onnx-backend openvino"),
    )


def _episodes(models_of):
    return (
        Applies(("--img-size", "--backbone"), _any_torch(models_of),
                "to .pt checkpoints and 'reference' (an exported graph fixes its own size and backbone)"),
        Applies(("--synthetic-size",), lambda a: a.benchmark == "synthetic", "with --benchmark synthetic"),
        Applies(("--datapath",), lambda a: a.benchmark in FILE_BENCHMARKS, f"with --benchmark {', '.join(FILE_BENCHMARKS)}"),
        Applies(("--splits",), lambda a: a.benchmark in SPLIT_LIST_BENCHMARKS, f"with --benchmark {', '.join(SPLIT_LIST_BENCHMARKS)}"),
        Applies(("--fold",), lambda a: a.benchmark in FOLD_BENCHMARKS, "with --benchmark pascal or coco"),
    ) + _onnx_backend(models_of)


PRECISION = (
    Applies(("--calib-benchmark", "--calib-datapath", "--calib-splits", "--calib-fold", "--calib-episodes",
             "--calib-method", "--calib-synthetic-size", "--int8-keep", "--int8-auto"), wants_int8,
            "when a graph is INT8 (--precision int8 or --support-precision int8)"),
    Applies(("--int8-gate", "--auto-episodes", "--sensitivity-json"), lambda a: a.int8_auto, "with --int8-auto"),
    Applies(("--calib-datapath",), lambda a: a.calib_benchmark in FILE_BENCHMARKS,
            f"with a --calib-benchmark read from files ({', '.join(FILE_BENCHMARKS)})"),
    Applies(("--calib-splits",), lambda a: a.calib_benchmark in SPLIT_LIST_BENCHMARKS, "with --calib-benchmark pascal, coco or fss"),
    Applies(("--calib-fold",), lambda a: a.calib_benchmark in FOLD_BENCHMARKS, "with --calib-benchmark pascal or coco"),
    Applies(("--calib-synthetic-size",), lambda a: a.calib_benchmark == "synthetic", "with --calib-benchmark synthetic"),
)

DEMO_ONLY = ("--checkpoint", "--random-weights", "--shots", "--queries", "--export-dir", "--threads", "-o", "--json",
             "--onnx-backend", "--openvino-device", "--openvino-precision", "--openvino-cache")

# ---- the table: command -> rows -------------------------------------------------------------
OPTION_TABLE: dict[str, tuple[Applies, ...]] = {
    "run": (
        Applies(("--device", "--threads", "--img-size", "--ort-tensorrt-cache", "--memory", "--cuda-graph", "--onnx-backend",
                 "--openvino-device", "--openvino-precision", "--openvino-cache"), lambda a: a.server is None,
                "to a local MODEL (with --server, the server's own options decide)"),
        Applies(("--ort-tensorrt-cache",), _backend_is("onnxruntime"), "to .onnx models"),
        Applies(("--ort-tensorrt-cache",), lambda a: a.onnx_backend == "onnxruntime", "with --onnx-backend onnxruntime"),
        Applies(("--memory", "--cuda-graph"), _backend_is("tensorrt"), "to .engine models"),
        Applies(("--img-size",), _backend_is("torch"), "to .pt checkpoints and 'reference' (an exported graph fixes its own size)"),
    ) + _onnx_backend(lambda a: [a.model]),
    "eval": _episodes(lambda a: [a.model]) + (
        Applies(("--grid-episodes",), lambda a: a.grid is not None, "with --grid"),
    ),
    "compare": _episodes(lambda a: [a.model_a, a.model_b]),
    "export": PRECISION + (
        Applies(("--seed",), lambda a: a.random_weights, "with --random-weights (it seeds the random weights)"),
        Applies(("--support-precision",), lambda a: a.split, "with --split (the support encoder is a split graph)"),
    ),
    "convert": PRECISION,
    "bench": (
        Applies(("--layer-iters", "--memory", "--cuda-graph"), _engines, "to TensorRT engines (bench ENGINE ...)"),
        Applies(("--backbone", "--img-size", "--mode", "--stage-iters", "--device", "--threads", "--onnx-backends"),
                lambda a: not _engines(a),
                "to .pt / .onnx models, not to TensorRT engines"),
    ),
    "serve": _onnx_backend(lambda a: [a.model]),
    "demo": (
        Applies(DEMO_ONLY, lambda a: a.write_images is None, "to the demo itself, not with --write-images"),
        _onnx_backend(lambda a: ["demo.onnx"])[1],  # the demo's graphs are always .onnx: only the OpenVINO row
    ),
}
