"""INT8 with explicit Q/DQ, the TensorRT way, by onnxruntime's static quantizer.

    q = quantize_int8(fp32_model, feeds, method="max", nodes=None)   # onnx.ModelProto

What is written (``onnxruntime.quantization.quantize_static`` in QDQ format):

    x -> QuantizeLinear(s_x, 0) -> DequantizeLinear(s_x, 0) -> Conv <- DQ(W_q, s_W[c], 0)

- int8 everywhere, symmetric: every zero-point is 0 (``ActivationSymmetric``,
  ``WeightSymmetric``), the form TensorRT's explicit quantization requires;
- activations per tensor, s_x = max|x| / 127 over the calibration episodes for ``max``
  (the histogram's entropy or percentile threshold for ``entropy`` / ``percentile``);
- Conv weights per output channel (axis 0), s_W[c] = max|W[c]| / 127;
- biases stay float (``QuantizeBias`` off: TensorRT adds them in its own precision);
- only the Convs and the correlation MatMuls are computed in INT8 (:mod:`node_groups`); the
  islands (mask resize, L2 normalisation, GroupNorm statistics, vote) and the learner's
  resize MatMuls stay float32. Conv outputs are quantized too, which is what lets
  onnxruntime fuse DQ -> Conv -> Q into one QLinearConv on the CPU, and what TensorRT
  fuses into its INT8 kernels.
- the data-movement nodes between them (Reshape, Transpose, Slice, Split, Concat, the
  correlation's ReLU) are quantized too where their values only go on into INT8 nodes
  (``node_groups.int8_carried_nodes``): runtimes then move 8-bit numbers. OpenVINO ran the
  400x400 query graph about 12 % faster (124.8 -> 108.9 ms), onnxruntime 6-7 % slower
  (245 -> 259 ms; 2 threads, static shapes, this project's AVX-512 CPU).

Why onnxruntime's quantizer and not ModelOpt's ONNX PTQ: see the ``calibration`` package
doc (it is measured there). Activation ranges are computed once per graph and kept in a
calibration cache, so the sensitivity analysis and ``--int8-auto`` re-quantize subsets
of the nodes without running the episodes again.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from ...errors import UserError

METHODS = ("max", "entropy", "percentile")
COMPUTE_OPS = ("Conv", "MatMul")


def _calibration_method(method: str):
    from onnxruntime.quantization import CalibrationMethod

    table = {"max": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
             "percentile": CalibrationMethod.Percentile}
    if method not in table:
        raise UserError(f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}")
    return table[method]


def quantize_int8(model, feeds: Optional[list], method: str = "max", nodes: Optional[Iterable[str]] = None,
                  cache_path: Optional[Path] = None, percentile: float = 99.999):
    """``model`` (FP32 onnx.ModelProto) -> its INT8 Q/DQ ModelProto.

    feeds: calibration feeds (graph input name -> array, one dict per episode); may be None
    when ``cache_path`` holds ranges computed before with the same method. nodes: node
    names to quantize (default: every node :func:`node_groups.quantizable_groups` names).
    """
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from ..onnx_graph import Inferred
    from .node_groups import CARRY_OPS, int8_carried_nodes, quantizable_groups

    calibrate = _calibration_method(method)
    if nodes is None:
        nodes = quantizable_groups(model, Inferred.of(model).shapes)
    nodes = list(nodes)
    if not nodes:
        raise UserError("nothing to quantize: the graph has no Conv or correlation MatMul outside the islands")
    nodes += int8_carried_nodes(model, nodes)
    if feeds is not None and not feeds:
        raise UserError("no calibration episodes: INT8 needs at least one")
    extra = {
        "ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
        "CalibTensorRangeSymmetric": True,
    }
    if method == "percentile":
        extra["CalibPercentile"] = percentile
    with tempfile.TemporaryDirectory(prefix="hsnet_int8_") as tmp:
        out, source = Path(tmp) / "int8.onnx", Path(tmp) / "fp32.onnx"
        onnx.save_model(model, str(source))  # from a file: given a ModelProto the quantizer rewrites it in place
        quiet = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # the quantizer's "consider pre-processing" advice
        try:
            quantize_static(
                str(source), str(out), FeedReader(feeds) if feeds is not None else None,
                quant_format=QuantFormat.QDQ, op_types_to_quantize=[*COMPUTE_OPS, *CARRY_OPS], per_channel=True,
                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, nodes_to_quantize=nodes,
                calibrate_method=calibrate, extra_options=extra,
                calibration_cache_path=str(cache_path) if cache_path is not None else None,
            )
        finally:
            logging.getLogger().setLevel(quiet)
        return onnx.load(str(out))


class FeedReader:
    """onnxruntime's ``CalibrationDataReader`` protocol over a list of feeds (rewindable)."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self.feeds = feeds
        self._next = 0

    def get_next(self):
        if self._next >= len(self.feeds):
            return None
        self._next += 1
        return self.feeds[self._next - 1]

    def rewind(self) -> None:
        self._next = 0

    def __len__(self) -> int:
        return len(self.feeds)
