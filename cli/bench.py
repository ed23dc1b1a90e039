"""``hsnet-deploy bench``: latency of HSNet configurations side by side with the official way.

    hsnet-deploy bench                          random-weight model + its ONNX export vs baseline
    hsnet-deploy bench best_model.pt hsnet.onnx --shots 1,5 --json out.json --plot out.png
    hsnet-deploy bench hsnet.engine [--cuda-graph] --json e.json --plot e.png   (engines alone:
                                                trtexec-style phases, per-layer time and precision)

Prints the tables (measured latency and ratios to the baseline, stage breakdown, FLOPs,
parameters); ``--json`` writes every field, ``--plot`` the
stage-breakdown bar chart.
"""

from __future__ import annotations

import argparse
import json
import math

from ..errors import UserError

HELP = "benchmark latency per stage: toolkit configurations vs the official way of running HSNet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "models", nargs="*", metavar="MODEL",
        help="a .pt checkpoint, an .onnx file (split graphs beside it are used for cached-support), "
        "'reference' for the shipped reference model, or 'torch' for a random-weight model; none: a random-weight model and its ONNX export",
    )
    parser.add_argument("--backbone", help="vgg16 | resnet50 | resnet101 (default: from the models, else resnet50)")
    parser.add_argument("--img-size", type=int, help="network input size S (default: the ONNX graph's, else 400)")
    parser.add_argument("--shots", default="1", help="K, or a comma list such as 1,5 (default 1)")
    parser.add_argument("--mode", choices=("all", "episode", "cached-support"), default="all",
                        help="episode: whole episodes; cached-support: support encoded once, per-query latency; all (default): both")
    parser.add_argument("--iters", type=int, default=10, help="timed episodes per configuration (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed warm-up episodes per configuration (default 2; at least 1 runs, it measures peak memory)")
    parser.add_argument("--stage-iters", type=int, default=3, help="extra episodes timing each network stage (default 3; 0 skips)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: cuda when PyTorch sees a GPU")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for PyTorch and onnxruntime (default: theirs); 1 gives steadier numbers on a busy machine")
    parser.add_argument("--onnx-backends", default="onnxruntime", metavar="LIST",
                        help="runtimes for the .onnx models, side by side: onnxruntime, openvino or both "
                        "(onnxruntime,openvino; OpenVINO with f32 inference) (default onnxruntime)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and synthetic images (default 0)")
    parser.add_argument("--json", metavar="OUT.json", help="write the full report as JSON")
    parser.add_argument("--plot", metavar="OUT.png", help="write the stage breakdown as a PNG bar chart (and OUT.peak.png: each stage's share of the measured peak); for engines: the slowest layers by precision")
    parser.add_argument("--layer-iters", type=int, default=5, metavar="N", help="engines: profiled runs for per-layer times (IProfiler; default 5, 0 skips)")
    from ..runtime.tensorrt.cuda_memory import BACKENDS

    parser.add_argument("--memory", choices=BACKENDS, default="auto", help="engines: the CUDA library for device and pinned memory")
    parser.add_argument("--cuda-graph", action="store_true", help="engines: replay a captured CUDA graph (trtexec --useCudaGraph)")


def parse_shots(text: str) -> tuple[int, ...]:
    from .int_list import parse_positive_ints

    return parse_positive_ints(text, "--shots", "1,5")


def _check_output(path: str | None, option: str, suffix: str, inputs: list) -> None:
    if path is not None:
        from ..output_paths import check_output_file

        check_output_file(path, option, suffixes={suffix}, inputs=inputs)


def _finite(value):
    """The report with non-finite floats as null, so the JSON is strict."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def report_json(report: dict) -> str:
    return json.dumps(_finite(report), indent=2, allow_nan=False) + "\n"


def write_json_if_asked(args: argparse.Namespace, report: dict) -> None:
    if args.json:
        from ..atomic_file import write_text_atomic

        write_text_atomic(args.json, report_json(report))
        print(f"\nwrote {args.json}")


def run(args: argparse.Namespace) -> int:
    from ..benchmarks.bench_session import BenchSettings, run_benchmark
    from ..benchmarks.engine_bench import is_engine
    from ..benchmarks.report_table import format_report
    from ..runtime.model_files import input_set

    inputs = [p for m in args.models for p in input_set(m)]
    _check_output(args.json, "--json", ".json", inputs)
    _check_output(args.plot, "--plot", ".png", inputs)
    if args.plot:
        from ..benchmarks.peak_chart import peak_chart_path

        _check_output(str(peak_chart_path(args.plot)), "--plot", ".png", inputs)

    engines = [m for m in args.models if is_engine(m)]
    if engines:
        if len(engines) != len(args.models):
            raise UserError("benchmark TensorRT engines on their own (bench ENGINE ...), not mixed with .pt/.onnx models")
        return run_engines(args, engines)
    from ..benchmarks.model_arguments import parse_model_argument

    for text in args.models:  # each MODEL names files that exist and form one export, before any work
        parse_model_argument(text)
    settings = BenchSettings(
        models=list(args.models),
        backbone=args.backbone,
        img_size=args.img_size,
        shots=parse_shots(args.shots),
        mode=args.mode,
        iters=args.iters,
        warmup=args.warmup,
        stage_iters=args.stage_iters,
        device=args.device,
        seed=args.seed,
        threads=args.threads,
        onnx_backends=tuple(b.strip() for b in args.onnx_backends.split(",")),
    )
    report = run_benchmark(settings)
    print(format_report(report))
    write_json_if_asked(args, report)
    if args.plot:
        from ..benchmarks.peak_chart import peak_chart_path, write_peak_chart
        from ..benchmarks.stage_chart import write_stage_chart

        write_stage_chart(report, args.plot)
        print(f"wrote {args.plot}")
        if any(r.get("achieved_per_stage") for r in report["results"]):
            write_peak_chart(report, peak_chart_path(args.plot))
            print(f"wrote {peak_chart_path(args.plot)}")
    return 0


def run_engines(args: argparse.Namespace, engines: list) -> int:
    """``bench ENGINE ...``: trtexec-style figures, per-layer times and precisions."""
    from ..benchmarks.engine_bench import (
        format_engine_report,
        run_engine_bench,
        write_layer_chart,
    )

    if args.iters < 1 or args.layer_iters < 0 or args.warmup < 0:
        raise UserError("--iters must be at least 1, --layer-iters and --warmup at least 0")
    report = run_engine_bench(engines, parse_shots(args.shots), args.iters, args.warmup, args.layer_iters,
                              args.memory, args.cuda_graph, args.seed)
    print(format_engine_report(report))
    write_json_if_asked(args, report)
    if args.plot:
        write_layer_chart(report, args.plot)
        print(f"wrote {args.plot}")
    return 0
