"""FP16 with FP32 islands, by onnxconverter-common's ``convert_float_to_float16``.

    half = to_fp16(fp32_model)      # onnx.ModelProto

Every float32 tensor and weight becomes float16 (weights stored at half the size), except
the nodes of the islands of :mod:`node_groups` (mask resize, L2 normalisation, GroupNorm
statistics, vote), which the converter leaves in float32 behind Cast nodes
(``node_block_list``). The graph's inputs and outputs keep their float32 / uint8 types
(``keep_io_types``), so the runtime contract does not change. The result is an ordinary,
strongly typed ONNX graph: TensorRT 10 builds it with ``STRONGLY_TYPED`` and TensorRT 11
always does, running every FP16 tensor in FP16 and every island in FP32.

Why the islands:

- the resized masks must be exactly zero where the FP32 graph is zero and keep their tiny
  non-zero values elsewhere (docs/protocol.md's parity trap: cosine similarity is scale-free, so
  1e-9 and 0 weigh a support position differently); as an island they are the FP32
  values themselves (``tests/test_precision.py``, ragged masks at 400²);
- ‖f‖₂ sums up to 2048 squares (ResNet layer4), which can exceed FP16's 65504;
- GroupNorm's variance of small correlations can underflow, and the vote's ratio is a
  threshold test at exactly 0.5.

Why onnxconverter-common rather than ModelOpt's AutoCast: both keep I/O types and take a
node block list; AutoCast needs ``nvidia-modelopt[onnx]``, which installs onnxruntime-gpu
in place of onnxruntime (the two cannot share an environment, and the CPU CI would then
run a GPU build), while onnxconverter-common is a 90 kB pure-Python wheel that needs
only onnx, numpy, protobuf and packaging. Non-zero weights smaller than 1e-7 are clamped
to ±1e-7 by the converter (its ``min_positive_val``) rather than flushed to zero.
"""

from __future__ import annotations

import warnings


def to_fp16(model, keep_float: tuple[str, ...] = ()):
    """``model`` (FP32 onnx.ModelProto) -> a new FP16 ModelProto with FP32 islands.

    keep_float: more node names to keep in float32 (beyond the islands).
    """
    from onnxconverter_common.float16 import convert_float_to_float16

    from .node_groups import island_nodes

    block = sorted(set(island_nodes(model)) | set(keep_float))
    with warnings.catch_warnings():  # "the float32 number 1e-09 will be truncated to 1e-07": by design
        warnings.simplefilter("ignore", UserWarning)
        half = convert_float_to_float16(model, keep_io_types=True, node_block_list=block)
    shapes_read_from_inputs(half)
    return half


def shapes_read_from_inputs(model) -> int:
    """A Shape of a Cast of a graph input reads the input itself (the same dims).

    With a dynamic B or K the graph reshapes ``support_imgs`` to a target built from its
    dims; the converter's input Cast would make that Shape read an intermediate tensor,
    which TensorRT accepts but the export's static-shape rule (Shape ops read graph
    inputs only) does not. Returns how many Shapes were rewired."""
    inputs = {i.name for i in model.graph.input}
    cast_of_input = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Cast" and n.input[0] in inputs}
    changed = 0
    for node in model.graph.node:
        if node.op_type == "Shape" and node.input[0] in cast_of_input:
            node.input[0] = cast_of_input[node.input[0]]
            changed += 1
    return changed
