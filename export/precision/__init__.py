"""FP16 and INT8 variants of exported graphs: TensorRT-ready precision in the ONNX file.

    from hsnet_deploy.calibration import CalibrationSource
    from hsnet_deploy.export.precision import PrecisionOptions, convert_file
    convert_file("hsnet.onnx", "hsnet.int8.onnx",
                 PrecisionOptions("int8", calibration=CalibrationSource("pascal", "VOC", "splits")))

The precision stage of the export: ``export_split(..., precision=PrecisionOptions(...))``
and ``hsnet-deploy convert`` run the same :func:`convert_graphs`. INT8 asks its
``calibration`` (a :class:`convert.FeedSource`) for feeds; the episodes behind them are the
calibration layer's (``hsnet_deploy.calibration``), which this package never imports.

TensorRT 11 removed the FP16 / INT8 builder flags and calibrators, and TensorRT 10 (the
JetPack version) builds the same files as strongly typed networks, so the precision is
written into the ONNX graph:

    fp16  :mod:`fp16`  every tensor FP16 but the FP32 islands (onnxconverter-common)
    int8  :mod:`int8`  explicit symmetric Q/DQ on the Convs and correlation MatMuls,
                       per-channel weights, ranges from real training-split episodes
                       (``calibration.calibration_episodes``; onnxruntime's ``quantize_static``)

The islands (mask resize, L2 normalisation, GroupNorm statistics, the vote) and the node
groups (backbone stages, correlation levels, squeezing / mixing blocks, decoder) are read
off the graph by :mod:`node_groups`; :mod:`check` is the ``precision`` check of
``hsnet-deploy check``; ``calibration.sensitivity`` measures each group's INT8 cost and picks
the float32 groups of ``--int8-auto``. The graphs' I/O stays float32 / uint8 in every
precision, so the runtime reads them all alike.

Libraries, and why (measured on the reference model, 200x200, this CPU):

- INT8: onnxruntime's ``quantize_static`` (QDQ, ``ActivationSymmetric``, per-channel),
  already a dependency. Its Q/DQ fuse into QLinearConv / QLinearMatMul on the CPU, while
  ModelOpt's TensorRT-style inputs-only placement ran 4.5x *slower* than FP32 in
  onnxruntime (the issue's measurement): nothing fuses. ModelOpt would also replace
  onnxruntime by onnxruntime-gpu in the environment. Calibration methods on 100
  held-out training episodes (FP32 mIoU 67.83): max 67.10, percentile 67.14, entropy
  67.10; max is the default (36 s against 80-90 s for the histogram methods).
- FP16: onnxconverter-common's ``convert_float_to_float16`` with a node block list (a
  90 kB pure-Python wheel needing onnx, numpy, protobuf, packaging); see :mod:`fp16` for why not AutoCast.
"""

from __future__ import annotations

from ...lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    convert="PrecisionOptions convert_file convert_graphs", fp16="to_fp16", int8="quantize_int8",
    node_groups="island_nodes quantizable_groups",
)
