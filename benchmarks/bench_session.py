"""One benchmark run: every configuration side by side, interleaved, against the baseline.

    settings -> models (torch / onnx, a temporary ONNX export when none is given)   bench_models
             -> configurations x K (cases)                                        bench_cases
             -> prepare, reference episode, warm-up (peak memory), timed episodes
                in a rotating order, staged episodes                              interleaved_timing
             -> FLOPs / elements per stage (counted on the meta device)           path_costs
             -> this machine's dense-GEMM peak per backend / precision            gemm_peak
             -> one report dict (what ``--json`` writes)                          bench_report

Ratios to the baseline (same K, same run) are the headline: absolute times on a shared
machine drift, ratios much less.
"""

from __future__ import annotations

import contextlib
import sys

from .bench_cases import build_cases
from .bench_models import load_models
from .bench_report import build_report
from .bench_settings import BenchSettings
from .gemm_peak import measure_peaks
from .interleaved_timing import episode_count, measure_cases
from .path_costs import count_path_costs
from .synthetic_episode import make_episodes

__all__ = ["BenchSettings", "run_benchmark"]



def _close_all(cases) -> None:
    for case in cases:
        case.config.close()


def run_benchmark(settings: BenchSettings) -> dict:
    """Run the benchmark described by ``settings``; returns the full report (see ``--json``)."""
    from tqdm import tqdm

    s = settings
    s.check()
    with contextlib.ExitStack() as stack:
        models = load_models(s, stack)
        cases, skipped = build_cases(s, models)
        stack.callback(_close_all, cases)
        total = episode_count(s, cases)
        progress = stack.enter_context(tqdm(total=total, desc="bench", unit="ep", disable=not s.progress, file=sys.stderr, leave=False))
        episodes = {k: make_episodes(k, s.seed) for k in s.shots}
        progress.set_postfix_str("GEMM peak")  # once, before the cases: right after a long run it read low
        peaks = measure_peaks(str(models.device), s.threads, with_onnxruntime=bool(models.onnx_models),
                              with_openvino="openvino" in s.onnx_backends and bool(models.onnx_models))
        measure_cases(s, cases, episodes, models.device, progress)
        costs = count_path_costs(models.backbone, models.img_size, s.shots)
        return build_report(s, models, cases, costs, skipped, models.notes, peaks)
