"""The cleaning pipeline applied to every traced graph before it is checked and saved.

    fold constants      Constant / Identity / static Shape / all-constant nodes -> initializers
    static reshapes     computed Reshape targets -> constants (-1 only at a dynamic batch dim)
    resize as MatMul    bilinear align_corners Resize -> R_h · X · R_wᵀ with PyTorch's weights
    fold constants      again, then drop whatever no output needs
    shape inference     strict, with data propagation; the inferred shapes are stored

Each pass works in place on an ``onnx.ModelProto``; :func:`clean_graph` returns what each
pass changed, for the export log.
"""

from __future__ import annotations

import onnx

from .constant_folding import fold_constants
from .onnx_graph import infer_shapes, remove_dead_nodes
from .resize_as_matmul import resizes_as_matmul
from .static_reshape import make_reshapes_static


def clean_graph(model: onnx.ModelProto) -> dict[str, int]:
    stats = {"folded": fold_constants(model)}
    stats["static_reshapes"] = make_reshapes_static(model)
    remove_dead_nodes(model.graph)
    stats["resizes_as_matmul"] = resizes_as_matmul(model)
    remove_dead_nodes(model.graph)
    stats["folded"] += fold_constants(model)
    del model.graph.value_info[:]
    inferred = infer_shapes(model, strict=True)
    model.graph.value_info.extend(inferred.graph.value_info)
    return stats
