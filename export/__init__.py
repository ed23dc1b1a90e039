"""TensorRT-ready ONNX export of HSNet, and the checks every exported graph must pass.

    from hsnet_deploy.export import ExportOptions, export_onnx, export_split, check_onnx

    export_onnx(model, "hsnet.onnx", img_size=400, shots=1)            # episode graph
    export_split(model, "hsnet.onnx", shots=None, shots_range=(1, 10)) # + .support / .query
    export_onnx(model, "hsnet.onnx", options=ExportOptions(img_size=400, shots=1))  # the same
    report = check_onnx("hsnet.onnx"); print(report.format()); assert report.ok

Importing this package is cheap: torch and onnx load on first use of a function.
"""

from __future__ import annotations

from ..lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    onnx_export="export_onnx export_split build_onnx split_paths ExportCheckFailed",
    export_options="ExportOptions", onnx_check="check_onnx", check_report="Report CheckResult",
)
