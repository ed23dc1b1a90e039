"""hsnet_deploy.benchmarks: latency per stage, side by side with the official way.

    from hsnet_deploy.benchmarks import BenchSettings, run_benchmark
    report = run_benchmark(BenchSettings(models=["torch"], shots=(1, 5)))

Pieces (one idea per module): ``bench_session`` (the run, thin), ``bench_settings``
(its options), ``model_arguments`` + ``bench_models`` (the models, opened through the
runtime), ``bench_cases`` (configurations x K), ``interleaved_timing`` (the measuring
loop), ``bench_report`` (the report dict), ``configurations`` +
``torch_configuration`` + ``onnxruntime_configuration`` (ways of running an episode),
``staged_forward`` + ``stage_timers`` (per-stage timing), ``cost_formulas`` +
``cost_counter`` + ``path_costs`` (FLOPs / elements moved), ``dense_conv4d`` + ``table5``
(dense vs center-pivot kernels), ``roofline`` (edge ESTIMATES), ``latency_stats``,
``peak_memory``, ``synthetic_episode``, ``report_table``, ``stage_chart``, ``command``
(``hsnet-deploy bench``).

Importing this package is cheap: torch loads when a benchmark runs.
"""

from __future__ import annotations

from ..lazy_exports import lazy_getattr

_LAZY = {
    "BenchSettings": "bench_session",
    "run_benchmark": "bench_session",
    "summarize": "latency_stats",
    "LatencyStats": "latency_stats",
    "Cost": "cost_formulas",
    "conv2d_cost": "cost_formulas",
    "center_pivot_conv_cost": "cost_formulas",
    "dense_conv4d_cost": "cost_formulas",
    "TARGETS": "roofline",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
