"""What precision each part of a graph computes in, and whether that is TensorRT-ready.

    problems, groups = precision_problems(model, shapes, types)

Per node group (:mod:`node_groups`), the precision its Convs / correlation MatMuls run in:

    int8   the data input comes from a DequantizeLinear (explicit Q/DQ)
    fp16   the data input is a FLOAT16 tensor
    fp32   otherwise

and the rules a file of the recorded ``hsnet_deploy.precision`` must follow:

    every file  islands compute in float32 (no island node reads a FLOAT16 tensor, except
                the Casts that bring a value into the island) and read no
                DequantizeLinear output; I/O types are the contract's (checked elsewhere)
    fp32        no Q/DQ, no FLOAT16 tensor
    fp16        every group fp16 (a group kept at fp32 must be recorded in the islands)
    int8        every QuantizeLinear / DequantizeLinear int8 with zero-point 0 (symmetric);
                activation scales per tensor; Conv weight scales per output channel
                (axis 0, one scale per channel); groups not recorded as islands are int8
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Mapping

import numpy as np
import onnx
from onnx import numpy_helper

from ...runtime.graph_contract import KEY_ISLANDS, KEY_PRECISION, metadata_of
from ..onnx_graph import consumers, producers
from .node_groups import PASS_THROUGH, island_nodes, node_key, quantizable_groups

FLOAT16 = onnx.TensorProto.FLOAT16
INT8 = onnx.TensorProto.INT8


def node_precision(node: onnx.NodeProto, producer: Mapping[str, onnx.NodeProto], types: Mapping[str, int]) -> str:
    source = producer.get(node.input[0])
    if source is not None and source.op_type == "DequantizeLinear":
        return "int8"
    return "fp16" if types.get(node.input[0]) == FLOAT16 else "fp32"


def group_precisions(model: onnx.ModelProto, shapes, types) -> dict[str, Counter]:
    """group -> Counter of its nodes' precisions."""
    producer = producers(model.graph)
    groups = quantizable_groups(model, shapes)
    by_group: dict[str, Counter] = defaultdict(Counter)
    for node in model.graph.node:
        group = groups.get(node_key(node))
        if group is not None:
            by_group[group][node_precision(node, producer, types)] += 1
    return dict(by_group)


def _qdq_problems(model: onnx.ModelProto) -> list[str]:
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    users = consumers(graph)
    problems = []
    for node in graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        name = node_key(node)
        zero = inits.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if zero is None:
            problems.append(f"{name} has no int8 zero-point (it would be uint8)")
            continue
        if zero.data_type != INT8:
            problems.append(f"{name} is not int8 ({onnx.TensorProto.DataType.Name(zero.data_type)})")
        elif np.any(numpy_helper.to_array(zero) != 0):
            problems.append(f"{name} has a non-zero zero-point (asymmetric)")
        scale = inits.get(node.input[1])
        n_scales = int(np.prod(scale.dims)) if scale is not None and scale.dims else 1
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        weight = inits.get(node.input[0]) if node.op_type == "DequantizeLinear" else None
        weight_of_conv = weight is not None and any(
            c.op_type == "Conv" and c.input[1] == node.output[0] for c in users[node.output[0]])
        if weight_of_conv:
            channels = int(weight.dims[0])
            if n_scales != channels or (channels > 1 and axis != 0):
                problems.append(f"{name}: Conv weight scales must be per output channel (axis 0, {channels}), "
                                f"got {n_scales} on axis {axis}")
        elif weight is None and n_scales != 1:
            problems.append(f"{name}: activation scale must be per tensor, got {n_scales} values")
    return problems


def precision_problems(model: onnx.ModelProto, shapes, types) -> tuple[list[str], dict[str, Counter]]:
    """(what breaks the rules of the module doc, group -> precisions) for ``model``."""
    meta = metadata_of(model)
    precision = meta.get(KEY_PRECISION, "fp32")
    recorded = {s.strip() for s in meta.get(KEY_ISLANDS, "").split(",") if s.strip()}
    producer = producers(model.graph)
    problems: list[str] = []
    islands = island_nodes(model)
    for node in model.graph.node:
        island = islands.get(node_key(node))
        if island is None or node.op_type in PASS_THROUGH:
            continue
        for name in node.input:
            source = producer.get(name)
            if source is not None and source.op_type == "DequantizeLinear":
                problems.append(f"Q/DQ inside the {island} island ({node_key(node)})")
            elif types.get(name) == FLOAT16:
                problems.append(f"the {island} island computes in FP16 ({node_key(node)})")
    groups = group_precisions(model, shapes, types)
    has_qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)
    if precision == "fp32":
        if has_qdq or any(t == FLOAT16 for t in types.values()):
            problems.append("recorded as fp32 but holds Q/DQ or FLOAT16 tensors")
    else:
        if precision == "int8":
            problems.extend(_qdq_problems(model))
        for group, counts in groups.items():
            off = sum(v for p, v in counts.items() if p != precision)
            if off and group not in recorded:
                problems.append(f"{group}: {off} node(s) not {precision} and the group is not a recorded island")
    unique = list(dict.fromkeys(problems))
    return unique, groups


def format_groups(groups: Mapping[str, Counter]) -> str:
    """'backbone /4 int8, ..., decoder fp32' (mixed groups show their counts)."""
    from .node_groups import group_order

    parts = []
    for group in group_order(groups):
        counts = groups[group]
        if len(counts) == 1:
            parts.append(f"{group} {next(iter(counts))}")
        else:
            parts.append(f"{group} " + "+".join(f"{p} {n}" for p, n in counts.most_common()))
    return ", ".join(parts)
