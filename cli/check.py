"""``hsnet-deploy check``: is an ONNX file a clean, TensorRT-ready hsnet-deploy graph?

    hsnet-deploy check hsnet.onnx hsnet.support.onnx hsnet.query.onnx

Prints one report per file (PASS/FAIL per check, op histogram); exits 1 if any check of
any file fails, 2 for a missing or unreadable file. Each file is read from disk once.
"""

from __future__ import annotations

HELP = "check exported ONNX graphs: TensorRT ops, no Gather, static shapes, folded constants, metadata"


def add_arguments(parser) -> None:
    parser.add_argument("models", nargs="+", metavar="MODEL.onnx", help="ONNX file(s) to check")


def run(args) -> int:
    from ..errors import UserError
    from ..export.onnx_check import check_onnx, load_model
    from ..runtime.model_files import resolve_model_files

    for path in args.models:  # a split half must come from one export with its partner (the runtime's rule)
        if resolve_model_files(path).backend != "onnxruntime":
            raise UserError(f"check reads ONNX files; {path} is not one (an engine's record is its .json sidecar)")
    # every file read once, all before any report: a missing/unreadable one fails first
    models = [(path, load_model(path)) for path in args.models]
    failed = 0
    for path, model in models:
        report = check_onnx(model, path=path)
        print(report.format())
        failed += not report.ok
    return 1 if failed else 0
