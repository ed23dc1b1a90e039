"""One benchmark run: every configuration side by side, interleaved, against the baseline.

    settings -> models (torch / onnx, a temporary ONNX export when none is given)   bench_models
             -> configurations x K (cases)                                        bench_cases
             -> prepare, reference episode, warm-up (peak memory), timed episodes
                in a rotating order, staged episodes                              interleaved_timing
             -> FLOPs / elements per stage (counted on the meta device)           path_costs
             -> this machine's dense-GEMM peak per backend / precision            gemm_peak
             -> Table 5                                                           table5
             -> one report dict (what ``--json`` writes), roofline ESTIMATES      bench_report

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
from .gemm_peak import best_of, measure_peaks
from .interleaved_timing import episode_count, measure_cases
from .path_costs import count_path_costs
from .synthetic_episode import make_episodes

__all__ = ["BenchSettings", "run_benchmark"]

TABLE5_SIZE_CPU = 128
TABLE5_SIZE_CUDA = 400
TABLE5_LEARNERS = 2  # center-pivot and dense, each a warm-up pass + table5_iters timed passes


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
        table5_size = s.table5_size
        if table5_size is None:
            table5_size = TABLE5_SIZE_CUDA if models.device.type == "cuda" else TABLE5_SIZE_CPU
        total = episode_count(s, cases) + (TABLE5_LEARNERS * (1 + s.table5_iters) if table5_size else 0)
        progress = stack.enter_context(tqdm(total=total, desc="bench", unit="ep", disable=not s.progress, file=sys.stderr, leave=False))
        episodes = {k: make_episodes(k, s.seed) for k in s.shots}
        progress.set_postfix_str("GEMM peak")
        first_peaks = measure_peaks(str(models.device), s.threads, with_onnxruntime=bool(models.onnx_models))
        measure_cases(s, cases, episodes, models.device, progress)
        costs = count_path_costs(models.backbone, models.img_size, s.shots)
        progress.set_postfix_str("GEMM peak")
        peaks = best_of(first_peaks, measure_peaks(str(models.device), s.threads, with_onnxruntime=bool(models.onnx_models)))
        table5 = None
        if table5_size:
            from .table5 import run_table5

            progress.set_postfix_str(f"Table 5 at {table5_size}x{table5_size}")
            table5 = run_table5(table5_size, models.device, s.table5_iters, tick=lambda: progress.update(1))
        return build_report(s, models, cases, costs, skipped, models.notes, table5, peaks)
