"""The first export pass: trace one graph of an HSNet to an ``onnx.ModelProto``.

1. copy the model's learner and swap its GroupNorms for :class:`ExplicitGroupNorm`
   (the backbone is shared, not copied; the caller's model is never modified);
2. trace with PyTorch's TorchScript exporter (``dynamo=False``) at the fixed H = W,
   with B (and K when ``shots=None``) declared dynamic (the contract's
   ``dynamic_axes``); batch-norms fold into the convs;
3. declare the contract's I/O dims (``tensor_dims``) on the graph's inputs and outputs:
   the tracer names even static output dims symbolically.

Why the tracer and not ``dynamo=True``: measured on this model (torch 2.13, onnxscript
0.7.2, ResNet50 at 128, dynamic batch) the dynamo exporter emitted 52 GatherND + 26
Gather nodes (it decomposes every linear/bilinear interpolation into index gathers,
aten._unsafe_index / aten.select, and traced the mask-resize weights as computation
instead of constants), InstanceNormalization for GroupNorm and unfused
BatchNormalization, and could not produce opset 17 (it exports 18 and its
down-conversion failed); it also took 48 s against 8 s. The tracer keeps the model's
constants, gives Slices for the strided support dims, folds batch-norm into the convs,
and what it leaves untidy (shape arithmetic on the batch dim, Resize with computed sizes)
is removed by the cleaning passes and verified by the checks.
"""

from __future__ import annotations

import copy
import io
import warnings

from ..runtime.graph_contract import (
    EPISODE,
    GRAPH_INPUTS,
    GRAPH_OUTPUTS,
    SUPPORT_ENCODER,
)
from .export_options import ExportOptions

EXAMPLE_BATCH, EXAMPLE_SHOTS = 2, 2  # traced sizes of dynamic dims (never 1: a 1 could be taken for a broadcast)


def exportable_copy(model):
    """A copy of ``model`` for tracing: eval mode, backbone shared (the learner's GroupNorms
    are already written in elementary ops: ``hsnet.grid_group_norm``)."""
    clone = copy.deepcopy(model, memo={id(model.backbone): model.backbone})
    return clone.eval()


def example_inputs(model, options: ExportOptions):
    """Deterministic inputs to trace with: ImageNet-like images, random binary masks.

    query (b, 3, S, S), supports (b, k, 3, S, S), masks (b, k, S, S) with b = 2 (1 for a
    fixed batch) and k = 2 (or the fixed K); the query graph gets the support features.
    """
    import torch

    b = EXAMPLE_BATCH if options.dynamic_batch else 1
    k = EXAMPLE_SHOTS if options.shots is None else options.shots
    s = options.img_size
    g = torch.Generator().manual_seed(0)
    query = torch.randn(b, 3, s, s, generator=g)
    supports = torch.randn(b, k, 3, s, s, generator=g)
    masks = (torch.rand(b, k, s, s, generator=g) > 0.5).float()
    if options.graph == EPISODE:
        return (query, supports, masks)
    if options.graph == SUPPORT_ENCODER:
        return (supports, masks)
    with torch.no_grad():
        return (query, *model.encode_support(supports, masks))


def trace_graph(model, options: ExportOptions):
    """``model`` (an HSNet) -> the traced ``onnx.ModelProto`` of ``options.graph``, I/O dims declared."""
    import onnx
    import torch

    from .graph_modules import GRAPH_MODULES
    from .onnx_graph import set_dims

    prepared = exportable_copy(model)
    wrapper = GRAPH_MODULES[options.graph](prepared).eval()
    args = example_inputs(prepared, options)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about python ints: the fixed H, W, by design
        torch.onnx.export(
            wrapper,
            args,
            buffer,
            dynamo=False,
            opset_version=options.opset,
            input_names=list(GRAPH_INPUTS[options.graph]),
            output_names=list(GRAPH_OUTPUTS[options.graph]),
            dynamic_axes=options.axes(),
            do_constant_folding=True,
            training=torch.onnx.TrainingMode.EVAL,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    del buffer
    declared = options.dims(model.backbone_name)
    for value_info in [*proto.graph.input, *proto.graph.output]:
        set_dims(value_info, declared[value_info.name])
    return proto
