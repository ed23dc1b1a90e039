"""hsnet_deploy.benchmarks: latency per stage, side by side with the official way.

    from hsnet_deploy.benchmarks import BenchSettings, run_benchmark
    report = run_benchmark(BenchSettings(models=["torch"], shots=(1, 5)))

Pieces (one idea per module): ``bench_session`` (the run, thin), ``bench_settings``
(its options), ``model_arguments`` + ``bench_models`` (the models, opened through the
runtime), ``bench_cases`` (configurations x K), ``interleaved_timing`` (the measuring
loop), ``bench_report`` (the report dict), ``configurations`` +
``torch_configuration`` + ``onnxruntime_configuration`` (ways of running an episode),
``staged_forward`` + ``stage_timers`` (per-stage timing), ``cost_formulas`` +
``cost_counter`` + ``path_costs`` (FLOPs / elements moved), ``latency_stats``,
``peak_memory``, ``synthetic_episode``, ``report_table``, ``stage_chart`` (the command is
``cli.bench``). Research measurements (Table 5, roofline estimates, probes) live in
``tools/research``, outside the installed package.

Importing this package is cheap: torch loads when a benchmark runs.
"""

from __future__ import annotations

from ..lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    bench_session="BenchSettings run_benchmark", latency_stats="summarize LatencyStats",
    cost_formulas="Cost conv2d_cost center_pivot_conv_cost dense_conv4d_cost",
)
