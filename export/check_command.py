"""``hsnet-deploy check``: is an ONNX file a clean, TensorRT-ready hsnet-deploy graph?

    hsnet-deploy check hsnet.onnx hsnet.support.onnx hsnet.query.onnx

Prints one report per file (PASS/FAIL per check, op histogram); exits 1 if any check of
any file fails, 2 for a missing or unreadable file.
"""

from __future__ import annotations

HELP = "check exported ONNX graphs: TensorRT ops, no Gather, static shapes, folded constants, metadata"


def add_arguments(parser) -> None:
    parser.add_argument("models", nargs="+", metavar="MODEL.onnx", help="ONNX file(s) to check")


def run(args) -> int:
    from .onnx_check import check_onnx, load_model

    for path in args.models:  # fail on a missing/unreadable file before printing any report
        load_model(path)
    failed = 0
    for path in args.models:
        report = check_onnx(path)
        print(report.format())
        failed += not report.ok
    return 1 if failed else 0
