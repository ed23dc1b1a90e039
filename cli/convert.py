"""``hsnet-deploy convert``: an FP32 export -> FP16 or INT8 files (and the options ``export`` shares).

    hsnet-deploy convert hsnet.onnx --precision fp16 -o hsnet.fp16.onnx
    hsnet-deploy convert hsnet.onnx --precision int8 --calib-benchmark pascal \\
        --calib-datapath VOC --calib-splits splits --calib-episodes 64 -o hsnet.int8.onnx
    hsnet-deploy convert hsnet.onnx --precision int8 --support-precision fp16 --int8-auto -o mixed.onnx

NAME.onnx's split siblings (NAME.support.onnx, NAME.query.onnx) are converted with it
when they exist. INT8 calibration reads ``--calib-episodes`` episodes of the calibration
benchmark's *training* split; ``--int8-auto`` first measures each node group's
sensitivity (ΔmIoU when only it is INT8) and keeps the most sensitive groups in float32
until INT8 is within ``--int8-gate`` mIoU of FP32 (:mod:`sensitivity`).
"""

from __future__ import annotations

from .option_table import wants_int8

HELP = "convert an FP32 ONNX export to FP16 (FP32 islands) or INT8 (explicit Q/DQ, calibrated)"


def add_precision_arguments(parser, default: str = "fp32") -> None:
    from ..calibration.calibration_episodes import (
        CALIBRATION_BENCHMARKS,
        DEFAULT_EPISODES,
    )
    from ..export.precision.int8 import METHODS
    from ..runtime.graph_contract import PRECISIONS

    parser.add_argument("--precision", choices=PRECISIONS, default=default,
                        help=f"precision of the episode and query graphs (default {default})")
    parser.add_argument("--support-precision", choices=PRECISIONS, default=None,
                        help="precision of the support encoder (default: --precision)")
    parser.add_argument("--calib-benchmark", choices=CALIBRATION_BENCHMARKS, default="synthetic",
                        help="INT8 calibration episodes: this benchmark's training split (default synthetic)")
    parser.add_argument("--calib-datapath", metavar="D", help="dataset root of --calib-benchmark (as for eval)")
    parser.add_argument("--calib-splits", metavar="DIR", help="official split lists for pascal, coco, fss")
    parser.add_argument("--calib-fold", type=int, default=0, help="fold for pascal / coco (default 0)")
    parser.add_argument("--calib-episodes", type=int, default=DEFAULT_EPISODES, metavar="N",
                        help=f"calibration episodes (default {DEFAULT_EPISODES})")
    parser.add_argument("--calib-method", choices=METHODS, default="max",
                        help="activation ranges: max, entropy or percentile (default max)")
    parser.add_argument("--calib-synthetic-size", type=int, default=None, metavar="S",
                        help="side of synthetic calibration images (default: the graph's image size)")
    parser.add_argument("--int8-keep", metavar="GROUPS", default="",
                        help="comma-separated node groups kept in float32 (e.g. 'backbone /4,decoder'; "
                        "see `hsnet-deploy check`)")
    parser.add_argument("--int8-auto", action="store_true",
                        help="measure each group's sensitivity and keep the most sensitive in float32 "
                        "until the INT8 gate holds")
    parser.add_argument("--int8-gate", type=float, default=1.0, metavar="DMIOU",
                        help="--int8-auto: largest mIoU drop against FP32 allowed (default 1.0)")
    parser.add_argument("--auto-episodes", type=int, default=100, metavar="N",
                        help="--int8-auto: training-split episodes (not the calibration ones) scored per trial "
                        "(default 100)")
    parser.add_argument("--sensitivity-json", metavar="FILE",
                        help="--int8-auto: write the per-group sensitivity as JSON (and FILE.png as a chart)")


def precision_options(args, img_size: int):
    """The PrecisionOptions named by the options above (UserError for a bad value; call it
    before any work, with the graph's size, to check them)."""
    from ..calibration.calibration_episodes import CalibrationSource
    from ..errors import UserError
    from ..export.precision.convert import PrecisionOptions

    if args.calib_benchmark in ("pascal", "coco") and not 0 <= args.calib_fold <= 3:
        raise UserError(f"--calib-fold {args.calib_fold} does not exist: folds are 0, 1, 2, 3")
    if args.auto_episodes < 1:
        raise UserError(f"--auto-episodes must be at least 1, got {args.auto_episodes}")
    if not args.int8_gate >= 0:
        raise UserError(f"--int8-gate must be at least 0, got {args.int8_gate}")
    if args.calib_synthetic_size is not None and args.calib_synthetic_size < 32:
        raise UserError(f"--calib-synthetic-size must be at least 32, got {args.calib_synthetic_size}")
    if args.int8_auto and not wants_int8(args):
        raise UserError("--int8-auto needs --precision int8 or --support-precision int8")
    if args.sensitivity_json:
        from ..output_paths import check_output_file

        check_output_file(args.sensitivity_json, "--sensitivity-json", suffixes={".json"})
    precisions = {args.precision, args.support_precision or args.precision}
    if precisions != {"fp32"}:  # the converted graphs are checked (and INT8 calibrated) in onnxruntime
        from ..runtime.onnxruntime.loader import require_onnxruntime

        require_onnxruntime("FP16 / INT8 conversion")
    if "fp16" in precisions:
        import importlib.util

        if importlib.util.find_spec("onnxconverter_common") is None:
            raise UserError("FP16 conversion needs onnxconverter-common, which is not installed: "
                            "pip install 'hsnet-deploy[precision]'")
    source = CalibrationSource(
        args.calib_benchmark, args.calib_datapath, args.calib_splits, args.calib_fold, args.calib_episodes,
        synthetic_size=args.calib_synthetic_size or img_size,
    )
    keep = tuple(g.strip() for g in args.int8_keep.split(",") if g.strip())
    chooser = None
    if args.int8_auto:
        from functools import partial

        from ..calibration.sensitivity import choose_float_groups

        chooser = partial(choose_float_groups, gate=args.int8_gate, n_episodes=args.auto_episodes,
                          report_path=args.sensitivity_json)
    return PrecisionOptions(args.precision, args.support_precision, source, args.calib_method, keep,
                            progress=not getattr(args, "quiet", False), choose_float_groups=chooser)


def add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL.onnx", help="an FP32 export (its split siblings are converted with it)")
    parser.add_argument("-o", "--output", required=True, help="output NAME.onnx (+ NAME.support.onnx, NAME.query.onnx)")
    add_precision_arguments(parser, default="fp16")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    import time
    from pathlib import Path

    from ..errors import UserError
    from ..export.graph_files import check_output, read_graphs, write_graphs
    from ..export.precision.convert import convert_graphs
    from ..runtime.model_files import (
        check_input_file,
        check_split_set,
        resolve_model_files,
    )

    source, output = check_input_file(args.model, "model"), Path(args.output)
    if source.suffix.lower() != ".onnx":
        raise UserError(f"convert takes an hsnet-deploy .onnx export, got {source}")
    files = resolve_model_files(source)  # the input set, checked as one export
    if args.support_precision is not None and not files.is_split:
        raise UserError(f"--support-precision applies only to a split export; {source} has no NAME.support.onnx")
    check_output(source, output)
    info = next(iter(check_split_set(files).values()))  # read once: resolve_model_files kept them
    options = precision_options(args, info.img_size)  # every option checked before the graphs are read
    if not options.converts:
        raise UserError("--precision fp32 (and no --support-precision) converts nothing: the source is the FP32 export")
    start = time.perf_counter()
    models = read_graphs(source)
    paths = write_graphs(convert_graphs(models, options), output)
    print(f"converted {source} in {time.perf_counter() - start:.1f} s:")
    for kind, path in paths.items():
        print(f"  {path}  ({path.stat().st_size / 2**20:.1f} MiB, {_precision_of(path)}, all checks passed)")
    return 0


def _precision_of(path) -> str:
    from ..runtime.model_files import graph_info

    return graph_info(path, "onnxruntime").precision
