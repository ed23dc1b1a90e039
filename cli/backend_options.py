"""The options that choose and tune the runtime behind an .onnx model (run, eval, compare).

    --onnx-backend onnxruntime|openvino    which runtime runs the .onnx files (default onnxruntime)
    --openvino-device CPU|GPU|NPU|AUTO     OpenVINO's device (an absent one: one line)
    --openvino-precision f32|bf16          OpenVINO's inference precision, always explicit
    --openvino-cache DIR                   OpenVINO's compiled-model cache
"""

from __future__ import annotations

from ..runtime.backends import ONNX_BACKENDS
from ..runtime.openvino.loader import DEVICES, PRECISIONS


def add_onnx_backend_arguments(parser) -> None:
    parser.add_argument("--onnx-backend", choices=ONNX_BACKENDS, default="onnxruntime",
                        help="runtime for .onnx models: onnxruntime (default) or openvino (pip install 'hsnet-deploy[openvino]')")
    parser.add_argument("--openvino-device", choices=DEVICES, default="CPU", help="OpenVINO device (default CPU)")
    parser.add_argument("--openvino-precision", choices=PRECISIONS, default="f32",
                        help="OpenVINO inference precision (default f32, for parity; bf16 is faster on CPUs with AVX-512 BF16 / AMX)")
    parser.add_argument("--openvino-cache", metavar="DIR", help="cache OpenVINO's compiled models in DIR (a second start skips compiling)")


def onnx_backend_options(args) -> dict:
    """RuntimeOptions keywords of these options (the cache folder checked as an output)."""
    if args.openvino_cache:
        from ..output_paths import check_output_folder

        check_output_folder(args.openvino_cache, "--openvino-cache", make_parents=True)
    return {"onnx_backend": args.onnx_backend, "openvino_device": args.openvino_device,
            "openvino_precision": args.openvino_precision, "openvino_cache": args.openvino_cache}
