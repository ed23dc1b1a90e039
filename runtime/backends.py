"""The one factory: a model (a file, or graphs in memory) + options -> loaders -> runners.

    options = RuntimeOptions(device="cpu", threads=2)
    runners = open_runners("hsnet.onnx", options)            # {"support_encoder": r, "query": r}
    runners = open_runners({"episode": model_proto}, options, backend="onnxruntime")
    runners = open_runners({"episode": engine_bytes}, options, backend="tensorrt",
                           metadata={"episode": sidecar_record})

``run``, ``eval``, ``bench`` and ``demo`` all open models here (through
``Segmenter.load``), so an option given on any command reaches every backend:

    device     auto | cpu | cuda                   every backend
    threads    intra-op CPU threads                onnxruntime, PyTorch
    providers  onnxruntime execution providers      onnxruntime (default: from device)
    tensorrt_cache  a folder                        onnxruntime: run through its TensorRT EP,
                                                    engines cached in this folder
    memory     auto | cuda-python | pycuda  (runtime.tensorrt.cuda_memory)
                                                    TensorRT device and pinned host memory
    cuda_graph replay a captured CUDA graph          TensorRT
    img_size, backbone, precision                   PyTorch checkpoints (graphs fix them)
    graphs     "auto" (split pair when present) | "episode" | "split"
    onnx_backend  onnxruntime | openvino            which runtime runs .onnx files
    openvino_device, openvino_precision (f32 | bf16), openvino_cache   OpenVINO

A TensorRT builder hands its fresh engine bytes here, a calibrator its in-memory Q/DQ
model; nothing needs to be written first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Mapping, Optional, Union

from ..errors import UserError
from .graph_contract import EPISODE, GRAPH_KINDS, QUERY, SUPPORT_ENCODER
from .loaders import check_device, check_threads
from .model_files import ModelFiles, resolve_model_files
from .onnxruntime.loader import OnnxSessionLoader
from .pytorch.loader import TorchModelLoader
from .runner import Runner
from .tensorrt.loader import EngineLoader

BACKENDS = ("onnxruntime", "tensorrt", "torch")
GRAPH_CHOICES = ("auto", "episode", "split")
TORCH_PRECISIONS = ("fp32", "fp16", "bf16")
ONNX_BACKENDS = ("onnxruntime", "openvino")  # what runs an .onnx file


@dataclass(frozen=True)
class RuntimeOptions:
    """How to run a model, whatever its backend (see the module docstring)."""

    device: str = "auto"
    threads: Optional[int] = None
    providers: Optional[tuple[str, ...]] = None
    memory: str = "auto"
    cuda_graph: bool = False
    img_size: Optional[int] = None
    backbone: Optional[str] = None
    precision: str = "fp32"
    graphs: str = "auto"
    tensorrt_cache: Optional[str] = None  # last: earlier fields keep their positions
    onnx_backend: str = "onnxruntime"  # or "openvino": the same .onnx files on OpenVINO
    openvino_device: str = "CPU"
    openvino_precision: str = "f32"  # always explicit: OpenVINO's own CPU default may be bf16
    openvino_cache: Optional[str] = None

    def __post_init__(self) -> None:
        check_device(self.device)
        check_threads(self.threads)
        if self.graphs not in GRAPH_CHOICES:
            raise UserError(f"unknown graph choice '{self.graphs}' (expected one of {', '.join(GRAPH_CHOICES)})")
        if self.precision not in TORCH_PRECISIONS:
            raise UserError(f"unknown precision '{self.precision}' (expected one of {', '.join(TORCH_PRECISIONS)})")
        if self.onnx_backend not in ONNX_BACKENDS:
            raise UserError(f"unknown ONNX backend '{self.onnx_backend}' (expected one of {', '.join(ONNX_BACKENDS)})")
        if self.onnx_backend == "openvino":
            from .openvino.loader import check_options

            check_options(self.openvino_device, self.openvino_precision)
        if self.img_size is not None and self.img_size < 1:
            raise UserError(f"img_size must be positive, got {self.img_size}")

    def with_(self, **changes) -> "RuntimeOptions":
        return replace(self, **changes)


def select_graphs(files: ModelFiles, graphs: str) -> dict:
    """The graph files to open for ``graphs`` = auto | episode | split."""
    if files.backend == "torch" or graphs == "auto":
        return dict(files.paths)
    if graphs == "split":
        if not files.is_split:
            path = files.paths[EPISODE]
            raise UserError(f"{path} has no split graphs beside it (export with --split)")
        return dict(files.paths)
    if not files.is_split:
        return dict(files.paths)
    if files.episode_beside is None:
        raise UserError(f"{files.paths[QUERY]} is a split pair with no episode graph beside it")
    return {EPISODE: files.episode_beside}


def make_runners(
    models: Mapping[str, object],
    backend: str,
    options: RuntimeOptions,
    metadata: Optional[Mapping[str, Mapping[str, str]]] = None,
) -> dict[str, Runner]:
    """Inactive runners: graph kind -> Runner, each over a loader carrying ``options``.

    ``models``: kind -> a path, bytes or an in-memory model; for the torch backend one
    entry (any kind) holding the checkpoint path or HSNet, which serves both split kinds.
    ``metadata``: kind -> record, for TensorRT engines given as bytes.
    """
    if backend not in BACKENDS:
        raise UserError(f"unknown backend '{backend}' (expected one of {', '.join(BACKENDS)})")
    kinds = set(models)
    if backend != "torch" and kinds not in ({EPISODE}, {SUPPORT_ENCODER, QUERY}):
        raise UserError(f"need an episode graph or a support_encoder + query pair, got {sorted(kinds)}")
    if backend == "onnxruntime" and options.onnx_backend == "openvino":
        from .openvino.loader import OpenVinoLoader
        from .openvino.runner import OpenVinoRunner

        return {
            kind: OpenVinoRunner(OpenVinoLoader(model, options.openvino_device, options.threads,
                                                options.openvino_precision, options.openvino_cache))
            for kind, model in models.items()
        }
    if backend == "onnxruntime":
        from .onnxruntime.runner import OnnxRuntimeRunner

        return {
            kind: OnnxRuntimeRunner(
                OnnxSessionLoader(model, options.device, options.threads, options.providers, tensorrt_cache=options.tensorrt_cache)
            )
            for kind, model in models.items()
        }
    if backend == "tensorrt":
        if options.device == "cpu":
            raise UserError("TensorRT engines run on a CUDA GPU only; use the .onnx file for --device cpu")
        from .tensorrt.runner import TensorRTRunner

        records = metadata or {}
        return {
            kind: TensorRTRunner(EngineLoader(model, records.get(kind)), memory=options.memory, cuda_graph=options.cuda_graph)  # type: ignore[arg-type]
            for kind, model in models.items()
        }
    from .pytorch.runner import TorchRunner

    if len(models) != 1:
        raise UserError("a PyTorch model serves every graph kind: give one checkpoint")
    loader = TorchModelLoader(next(iter(models.values())), options.device, options.backbone, options.threads)
    kinds_wanted = (EPISODE,) if options.graphs == "episode" else (SUPPORT_ENCODER, QUERY)
    return {kind: TorchRunner(loader, graph=kind, img_size=options.img_size, precision=options.precision)
            for kind in kinds_wanted}


def runners_for(path: Union[str, os.PathLike, ModelFiles], options: RuntimeOptions = RuntimeOptions()) -> dict[str, Runner]:
    """Inactive runners for a model file, or files already resolved (split graphs when
    present, per ``options.graphs``)."""
    files = path if isinstance(path, ModelFiles) else resolve_model_files(path)
    return make_runners(select_graphs(files, options.graphs), files.backend, options)


def activate_all(runners: Mapping[str, Runner]) -> dict[str, Runner]:
    """Activate every runner; on any failure, release those already active and re-raise."""
    try:
        for runner in runners.values():
            runner.activate()
    except BaseException:
        for runner in runners.values():
            runner.deactivate()
        raise
    return dict(runners)


def open_runners(
    model: Union[str, os.PathLike, ModelFiles, Mapping[str, object]],
    options: RuntimeOptions = RuntimeOptions(),
    backend: Optional[str] = None,
    metadata: Optional[Mapping[str, Mapping[str, str]]] = None,
) -> dict[str, Runner]:
    """Active runners for a model file, or for in-memory graphs (kind -> model; ``backend``)."""
    if isinstance(model, Mapping):
        if backend is None:
            raise UserError("in-memory graphs need their backend (onnxruntime, tensorrt or torch)")
        unknown = set(model) - set(GRAPH_KINDS)
        if unknown:
            raise UserError(f"unknown graph kind(s) {sorted(unknown)} (expected {', '.join(GRAPH_KINDS)})")
        return activate_all(make_runners(model, backend, options, metadata))
    return activate_all(runners_for(model, options))
