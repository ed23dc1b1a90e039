"""The report of a run: one dict, what ``--json`` writes and ``report_table`` prints.

    {schema, environment, settings,
     results   one per case: latency stats, ratio to the baseline of its K, stages,
               support encoding, memory, parameters, FLOPs / elements per stage,
               agreement with the baseline's reference episode
     skipped, notes, gemm_peaks (measured this run)}

Per case, with t the timed episode latencies and b the baseline's median at the same K:

    latency_ratio_to_baseline = median(t) / b        speedup_vs_baseline = b / median(t)
    stages_ms[stage]          = median over the staged episodes (the timed ones when the
                                backend cannot be cut: one "network" stage)
    agreement                 = mean(mask == baseline mask), max |logits - baseline logits|
                                on episode 0 (network-size logits (K, 2, S, S))
    achieved_per_stage        = FLOPs / median stage time, and its share of the measured
                                GEMM peak of the backend (``peak_share``)
    operator_ms / _shares     = onnxruntime: median profiled time per operator type
"""

from __future__ import annotations

import datetime
import platform
import sys

import numpy as np

from .. import __version__
from .bench_cases import Case
from .bench_settings import BenchSettings
from .configurations import CACHED_MODE, COST_EPISODE
from .cost_formulas import Cost
from .latency_stats import median_ms_by_key, summarize
from .peak_share import achieved_per_stage, operator_shares
from .staged_forward import NETWORK_STAGES, STAGES, SUPPORT_BACKBONE
from .synthetic_episode import ORIGINAL_SIZE, QUERY_POOL

SCHEMA = "hsnet_deploy.bench/1"
MEMORY_NOTE = (
    "peak during one warm episode (the last warm-up), and during the case's first episode; "
    "memory an allocator keeps from earlier episodes (onnxruntime's CPU arena) is reused without "
    "raising the RSS, so for onnxruntime the first-run figure is the better measure; on CUDA the "
    "figures are PyTorch's peak allocated tensors, which no cache hides"
)


def case_report(case: Case, baseline: dict, costs: dict) -> dict:
    """One entry of ``results``; ``baseline``: {median_ms, reference} of the same K, or None."""
    cfg = case.config
    stats = summarize(case.latencies)
    network = summarize(case.network)
    if case.staged_stages:
        samples, stage_source = case.staged_stages, f"staged pass ({len(case.staged_stages)} episodes, network stages timed one by one)"
    else:
        samples, stage_source = case.timed_stages, f"timed episodes ({len(case.timed_stages)}; the network is one stage)"
    stage_names = [st for st in STAGES if any(st in sample for sample in samples)]
    stages_ms = median_ms_by_key(samples, stage_names)

    cost = costs[(cfg.cost_path, case.shots)]
    per_stage = cost["stages"]
    flops = {st: per_stage[st].flops for st in NETWORK_STAGES if st in per_stage}
    elements = {st: per_stage[st].elements for st in NETWORK_STAGES if st in per_stage}
    support_cost = None
    if cfg.mode == CACHED_MODE:
        support_cost = costs[(COST_EPISODE, case.shots)]["stages"].get(SUPPORT_BACKBONE, Cost())

    params = dict(cfg.parameters())
    if cfg.backend == "torch":
        params["used_in_forward"] = cost["used_parameters"]

    agreement = None
    if baseline is not None and case.reference is not None:
        ref = baseline["reference"]
        agreement = {
            "mask_pixels_equal": float(np.mean(case.reference.mask == ref.mask)),
            "logits_max_abs_diff": float(np.max(np.abs(case.reference.logits - ref.logits))),
        }
    operator_ms = median_ms_by_key(getattr(cfg, "op_seconds", None) or [])
    report = {
        "key": cfg.key,
        "label": cfg.label,
        "is_baseline": case.is_baseline,
        "backend": cfg.backend,
        "mode": cfg.mode,
        "precision": cfg.precision,
        "cuda_graph": bool(getattr(cfg, "cuda_graph", False)),
        "shots": case.shots,
        "model": cfg.source,
        "device": cfg.device_description(),
        "latency_ms": stats.as_dict(),
        "network_latency_ms": network.as_dict(),
        "fps": stats.fps,
        "latency_ratio_to_baseline": None,
        "speedup_vs_baseline": None,
        "stages_ms": stages_ms,
        "stages_source": stage_source,
        "support_encoding_ms": float(np.median(cfg.support_encode_seconds) * 1e3) if cfg.support_encode_seconds else None,
        "memory": {**case.memory, "first_run": case.first_run_memory, "note": MEMORY_NOTE},
        "parameters": params,
        "flops_per_stage": flops,
        "flops_total": sum(flops.values()),
        "gflops_total": sum(flops.values()) / 1e9,
        "elements_moved_per_stage": elements,
        "elements_moved_total": sum(elements.values()),
        "support_encoding_flops": None if support_cost is None else support_cost.flops,
        "agreement_with_baseline": agreement,
        "operator_ms": operator_ms or None,
        "operator_shares": operator_shares(operator_ms) or None,
        "notes": list(cfg.notes),
    }
    if baseline is not None:
        base_median = baseline["median_ms"]
        report["latency_ratio_to_baseline"] = stats.median_ms / base_median
        report["speedup_vs_baseline"] = base_median / stats.median_ms if stats.median_ms > 0 else None
    return report


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(device, threads) -> dict:
    """Versions, CPU/GPU, thread counts and TF32 flags of this run (``device``: torch.device)."""
    import torch

    env = {
        "hsnet_deploy": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "onnxruntime_threads": threads or "default (one per physical core)",
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        # PyTorch's defaults: FP32 convolutions may run as TF32 on NVIDIA GPUs since Ampere
        "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
        "matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        import onnxruntime

        env["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        env["onnxruntime"] = None
    return env


def settings_section(s: BenchSettings, backbone: str, img_size: int, device) -> dict:
    return {
        "models": list(s.models),
        "backbone": backbone,
        "img_size": img_size,
        "shots": list(s.shots),
        "mode": s.mode,
        "iters": s.iters,
        "warmup": s.warmup,
        "stage_iters": s.stage_iters,
        "device": str(device),
        "original_image_size_hw": list(ORIGINAL_SIZE),
        "queries_cycled": QUERY_POOL,
        "seed": s.seed,
        "threads": s.threads,
        "episode_definition": "uint8 images and masks at the original size -> pre-processing -> network -> logits resized to the query's size -> K-shot vote",
        "flop_convention": "FLOPs = 2 x multiply-accumulates of convolutions, linear layers and correlation matmuls",
    }


def build_report(s: BenchSettings, models, cases: list[Case], costs: dict, skipped: list, notes: list, peaks: dict) -> dict:
    """The whole report; ``models``: the run's BenchModels (device, backbone, img_size);
    ``peaks``: this run's measured GEMM peaks (``gemm_peak.measure_peaks``)."""
    baselines = {}
    for case in cases:
        if case.is_baseline:
            baselines[case.shots] = {"median_ms": summarize(case.latencies).median_ms, "reference": case.reference}
    results = [case_report(case, baselines.get(case.shots), costs) for case in cases]
    for result in results:
        result["achieved_per_stage"] = achieved_per_stage(result, peaks)
    return {
        "schema": SCHEMA,
        "environment": environment(models.device, s.threads),
        "settings": settings_section(s, models.backbone, models.img_size, models.device),
        "results": results,
        "skipped": skipped,
        "notes": notes,
        "gemm_peaks": peaks,
    }
