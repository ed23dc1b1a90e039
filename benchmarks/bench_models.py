"""The models a benchmark compares, opened through the runtime.

    settings.models (MODEL arguments, see :mod:`model_arguments`)
        .onnx  -> Segmenter.load(path, RuntimeOptions(device, threads, graphs="episode"))
                  and, with split graphs, Segmenter.load(NAME.query.onnx, graphs="split")
        .pt    -> TorchModelLoader(path, device, backbone): the HSNet itself (the torch
                  configurations cut it into stages)
        torch  -> a seeded random-weight HSNet
        none   -> a random-weight HSNet and its ONNX export to a temporary folder
    + the baseline: the first PyTorch model, or random weights

The device is the runtime's choice (``choose_torch_device``); ONNX graphs fix backbone
and input size, so they are read first and the PyTorch models must agree with them.
Every resource (segmenters, the temporary folder, PyTorch's thread count) is released
by the caller's ``ExitStack``.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import UserError
from ..runtime.backends import RuntimeOptions
from ..runtime.graph_contract import EPISODE, QUERY, SUPPORT_ENCODER, split_paths
from ..runtime.onnxruntime.loader import choose_providers
from ..runtime.pytorch.loader import TorchModelLoader, choose_torch_device
from ..runtime.segmenter import Segmenter
from .bench_settings import BenchSettings, wants_cached, wants_episode
from .model_arguments import ModelArgument, parse_model_argument

DEFAULT_IMG_SIZE = 400
NO_CUDA_GPU = "--device cuda: PyTorch sees no CUDA GPU on this machine (use --device cpu)"
NO_ONNXRUNTIME = "onnxruntime is not installed (pip install onnxruntime)"
NO_CUDA_PROVIDER = "this onnxruntime has no CUDAExecutionProvider (pip install onnxruntime-gpu)"
EPISODE_SEGMENTER, SPLIT_SEGMENTER = "episode", "split"  # keys of BenchModels.onnx_models' dicts


@dataclass
class BenchModels:
    device: object  # torch.device every PyTorch configuration runs on
    backbone: str
    img_size: int
    torch_models: list = field(default_factory=list)  # (ModelArgument, HSNet on device)
    onnx_models: list = field(default_factory=list)  # (ModelArgument, {"episode": Segmenter, "split": Segmenter})
    baseline_arg: Optional[ModelArgument] = None
    baseline_model: object = None
    notes: list = field(default_factory=list)


def bench_device(request: str):
    """The runtime's device choice, with the bench's message for ``--device cuda`` without a GPU."""
    try:
        return choose_torch_device(request)
    except UserError:
        if request == "cuda":
            raise UserError(NO_CUDA_GPU) from None
        raise


def onnxruntime_device(torch_device) -> tuple[str, Optional[str]]:
    """(onnxruntime device, reason to skip onnxruntime or None); the providers are the runtime's rule."""
    device = "cuda" if torch_device.type == "cuda" else "cpu"
    try:
        import onnxruntime
    except ImportError:
        return "cpu", NO_ONNXRUNTIME
    try:
        choose_providers(device, onnxruntime.get_available_providers())
    except UserError:
        return device, NO_CUDA_PROVIDER
    return device, None


def export_for_benchmark(model, folder: Path, img_size: int, shots: tuple, mode: str, progress: bool = False) -> ModelArgument:
    """Export the graphs ``mode`` needs (episode and/or the split pair) to ``folder``,
    batch 1, K dynamic over ``shots``, with hsnet_deploy.export."""
    from ..export import export_onnx

    paths = split_paths(folder / "hsnet.onnx")  # kind -> path, the graph contract's naming
    kinds = []
    if wants_episode(mode):
        kinds.append(EPISODE)
    if wants_cached(mode):
        kinds += [SUPPORT_ENCODER, QUERY]
    for kind in kinds:
        export_onnx(model, paths[kind], img_size=img_size, shots=None, dynamic_batch=False,
                    graph=kind, shots_range=(min(shots), max(shots)), progress=progress)
    return ModelArgument(
        str(paths[EPISODE]),
        "onnx",
        episode_graph=paths[EPISODE] if EPISODE in kinds else None,
        split_graphs=(paths[SUPPORT_ENCODER], paths[QUERY]) if QUERY in kinds else None,
    )


def open_onnx(arg: ModelArgument, device: str, threads: Optional[int], stack: contextlib.ExitStack,
              backend: str = "onnxruntime") -> dict:
    """{"episode": Segmenter over the episode graph, "split": Segmenter over the split pair},
    as far as ``arg`` has them, on ``backend`` (OpenVINO: the CPU, f32 inference); each
    closed by ``stack``."""
    options = RuntimeOptions(device="cpu" if backend == "openvino" else device, threads=threads, onnx_backend=backend)
    opened = {}
    if arg.episode_graph is not None:
        opened[EPISODE_SEGMENTER] = Segmenter.load(arg.episode_graph, options=options.with_(graphs="episode"))
        stack.callback(opened[EPISODE_SEGMENTER].close)
    if arg.split_graphs is not None:
        query_graph = arg.split_graphs[1]  # either half names the pair
        opened[SPLIT_SEGMENTER] = Segmenter.load(query_graph, options=options.with_(graphs="split"))
        stack.callback(opened[SPLIT_SEGMENTER].close)
    return opened


def _limit_torch_threads(threads: Optional[int], stack: contextlib.ExitStack) -> None:
    if threads:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        stack.callback(torch.set_num_threads, previous)  # leave the process as it was


def _common_geometry(s: BenchSettings, onnx_models: list) -> tuple[Optional[str], Optional[int]]:
    """(backbone, image size) from the settings and the graphs; None where nothing fixes them yet."""
    infos = [seg.info for _, segs in onnx_models for seg in segs.values()]
    backbones = {i.backbone for i in infos}
    sizes = {i.img_size for i in infos}
    if len(backbones) > 1 or len(sizes) > 1:
        raise UserError(f"the ONNX models differ in backbone or input size ({sorted(backbones)}, {sorted(sizes)}); benchmark them separately")
    backbone = s.backbone or (next(iter(backbones)) if backbones else None)
    if s.backbone and backbones and s.backbone not in backbones:
        raise UserError(f"--backbone {s.backbone} but the ONNX model is a {next(iter(backbones))} export")
    img_size = s.img_size or (next(iter(sizes)) if sizes else None)
    if s.img_size and sizes and s.img_size not in sizes:
        raise UserError(f"--img-size {s.img_size} but the ONNX model was exported for {next(iter(sizes))}x{next(iter(sizes))}")
    return backbone, img_size


def load_models(s: BenchSettings, stack: contextlib.ExitStack) -> BenchModels:
    """Every model of the run, on its device; resources released by ``stack``."""
    from ..hsnet.backbone_features import backbone_spec
    from ..hsnet.model_source import load_model
    from ..runtime.image_size import check_image_size

    device = bench_device(s.device)
    _limit_torch_threads(s.threads, stack)
    arguments = [parse_model_argument(text) for text in s.models]
    ort_device, ort_skip = onnxruntime_device(device)
    onnx_args = [a for a in arguments if a.kind == "onnx"]
    if onnx_args and ort_skip:
        raise UserError(f"cannot benchmark {onnx_args[0].text}: {ort_skip}")

    # ONNX graphs fix backbone and size: read them first.
    onnx_models = [(arg, open_onnx(arg, ort_device, s.threads, stack, backend))
                   for arg in onnx_args for backend in s.onnx_backends]
    backbone, img_size = _common_geometry(s, onnx_models)
    if s.backbone:
        backbone_spec(s.backbone)  # UserError for an unknown name, before anything is built
    if not any(a.checkpoint for a in arguments):  # the backbone and the size are known: check now
        img_size = img_size or DEFAULT_IMG_SIZE
        check_image_size(img_size, img_size, backbone or "resnet50")

    # PyTorch models.
    torch_models = []
    for arg in arguments:
        if arg.kind != "torch":
            continue
        if arg.checkpoint is not None:
            model, _ = TorchModelLoader(str(arg.checkpoint), device=device.type, backbone=backbone)()
        else:
            model = load_model(None, backbone, random_seed=s.seed).to(device)
        backbone = backbone or model.backbone_name
        if model.backbone_name != backbone:
            raise UserError(f"{arg.text} is a {model.backbone_name} HSNet but the other models are {backbone}")
        torch_models.append((arg, model))
    backbone = backbone or "resnet50"
    # a model that records the size it was trained at (the reference) runs at it unless told otherwise
    trained = [m.trained_img_size for _, m in torch_models if m.trained_img_size]
    img_size = img_size or (trained[0] if trained else DEFAULT_IMG_SIZE)
    check_image_size(img_size, img_size, backbone)
    models = BenchModels(device, backbone, img_size, torch_models, onnx_models)

    if not arguments:  # default: a random-weight model and its ONNX export
        model = load_model(None, backbone, random_seed=s.seed)
        if ort_skip:
            models.notes.append(f"onnxruntime configurations skipped: {ort_skip}")
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hsnet-bench-")))
            try:
                exported = export_for_benchmark(model, folder, img_size, tuple(s.shots), s.mode, s.progress)
            except ImportError as err:
                models.notes.append(f"onnxruntime configurations skipped: the ONNX exporter is not available ({err})")
            else:
                models.onnx_models += [(exported, open_onnx(exported, ort_device, s.threads, stack, backend))
                                       for backend in s.onnx_backends]
                models.notes.append(f"ONNX graphs exported from the random-weight model to a temporary folder ({img_size}x{img_size})")
        models.torch_models.append((ModelArgument("torch", "torch"), model.to(device)))

    # The baseline: the first PyTorch model, or random weights (latency does not depend on weights).
    if models.torch_models:
        models.baseline_arg, models.baseline_model = models.torch_models[0]
    else:
        models.baseline_arg = ModelArgument("torch", "torch")
        models.baseline_model = load_model(None, backbone, random_seed=s.seed).to(device)
        models.notes.append("baseline runs a random-weight PyTorch model (no .pt given): latency does not depend on the weights, agreement numbers do")
    return models
