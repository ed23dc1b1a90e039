"""The cases of a run: configurations x K, each with what its measurement collects.

For every K of ``--shots``, in this order:

    baseline                          official eager FP32, K x 1-shot (the reference)
    per PyTorch model                 torch-batched / torch-cached, FP32; on CUDA also
                                      FP16, CUDA-graph FP32 and CUDA-graph FP16
    per ONNX model                    onnxruntime-episode / onnxruntime-cached, as far as
                                      the model has the graphs and they accept this K

A configuration a model cannot provide is listed in ``skipped`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .bench_models import EPISODE_SEGMENTER, SPLIT_SEGMENTER, BenchModels
from .bench_settings import BenchSettings, wants_cached, wants_episode
from .configurations import COST_EPISODE, COST_OFFICIAL, COST_QUERY, Configuration
from .onnxruntime_configuration import OnnxRuntimeConfiguration
from .torch_configuration import TorchConfiguration


@dataclass
class Case:
    config: Configuration
    shots: int
    is_baseline: bool = False
    latencies: list = field(default_factory=list)  # seconds per timed episode
    network: list = field(default_factory=list)  # seconds of the network part per timed episode
    timed_stages: list = field(default_factory=list)  # stage -> seconds, per timed episode
    staged_stages: list = field(default_factory=list)  # stage -> seconds, per staged episode
    reference: object = None  # EpisodeOutput of episode 0
    memory: dict = field(default_factory=dict)  # peak memory of a warm episode
    first_run_memory: dict = field(default_factory=dict)  # ... and of the case's first episode


def onnx_parameter_counts(paths) -> dict:
    """Elements of the graphs' initializers (weights and constants): the 'total' of a graph."""
    try:
        import onnx
    except ImportError:
        return {"learnable": None, "total": None}
    total = 0
    for path in paths:
        model = onnx.load(str(path), load_external_data=False)
        total += sum(int(np.prod(init.dims)) if init.dims else 1 for init in model.graph.initializer)
    return {"learnable": None, "total": total, "note": "initializer elements of the ONNX graph(s)"}


def _torch_cases(s: BenchSettings, models: BenchModels, k: int) -> list[Case]:
    dev, size = models.device, models.img_size
    cases = []
    multiple = len(models.torch_models) > 1
    for arg, model in models.torch_models:
        tag = f" [{arg.short_name}]" if multiple else ""
        variants = [("fp32", False)]
        if dev.type == "cuda":
            variants += [("fp16", False), ("fp32", True), ("fp16", True)]
        for precision, graph in variants:
            suffix = precision + (" cuda-graph" if graph else "")
            key_suffix = "" if (precision, graph) == ("fp32", False) else "-" + suffix.replace(" ", "-")
            if wants_episode(s.mode):
                cfg = TorchConfiguration(
                    "torch-batched" + key_suffix, f"torch batched-K {suffix}{tag}", model, dev, k, size,
                    arg.short_name, COST_EPISODE, precision, graph,
                )
                cases.append(Case(cfg, k))
            if wants_cached(s.mode):
                cfg = TorchConfiguration(
                    "torch-cached" + key_suffix, f"torch cached-support {suffix}{tag}", model, dev, k, size,
                    arg.short_name, COST_QUERY, precision, graph,
                )
                cases.append(Case(cfg, k))
    return cases


def _onnx_cases(s: BenchSettings, models: BenchModels, k: int, skipped: list) -> list[Case]:
    want_episode, want_cached = wants_episode(s.mode), wants_cached(s.mode)
    cases = []
    multiple = len({arg.text for arg, _ in models.onnx_models}) > 1
    for arg, segs in models.onnx_models:
        tag = f" [{arg.short_name}]" if multiple else ""
        backend = next(iter(segs.values())).backend if segs else "onnxruntime"
        if want_episode and EPISODE_SEGMENTER not in segs:
            skipped.append({"config": f"{backend} episode graph [{arg.short_name}]", "shots": k, "reason": "only split graphs given"})
        if want_cached and SPLIT_SEGMENTER not in segs:
            skipped.append({"config": f"{backend} cached-support [{arg.short_name}]", "shots": k, "reason": "no NAME.support.onnx / NAME.query.onnx beside it (hsnet-deploy export --split)"})
        for kind, seg in segs.items():
            if (kind == EPISODE_SEGMENTER and not want_episode) or (kind == SPLIT_SEGMENTER and not want_cached):
                continue
            key = f"{backend}-episode" if kind == EPISODE_SEGMENTER else f"{backend}-cached"
            label = f"{backend} " + ("episode graph" if kind == EPISODE_SEGMENTER else "cached-support") + tag
            if seg.precision != "fp32":
                label += f" {seg.precision}"
            if seg.shots is not None and seg.shots != k:
                skipped.append({"config": label, "shots": k, "reason": f"graph exported for K={seg.shots}"})
                continue
            paths = [r.path for r in seg.runners.values()]
            cfg = OnnxRuntimeConfiguration(key, label, seg, k, models.img_size, arg.short_name, onnx_parameter_counts(paths))
            cases.append(Case(cfg, k))
    return cases


def build_cases(s: BenchSettings, models: BenchModels) -> tuple[list[Case], list[dict]]:
    """(cases in run order, skipped configurations {config, shots, reason})."""
    cases: list[Case] = []
    skipped: list[dict] = []
    for k in s.shots:
        base = TorchConfiguration(
            "baseline", "baseline: official eager FP32, K x 1-shot", models.baseline_model, models.device, k,
            models.img_size, models.baseline_arg.short_name, COST_OFFICIAL,
        )
        cases.append(Case(base, k, is_baseline=True))
        cases += _torch_cases(s, models, k)
        cases += _onnx_cases(s, models, k, skipped)
    return cases, skipped
