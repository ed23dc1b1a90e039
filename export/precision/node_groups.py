"""Which part of HSNet each node of an exported graph is: precision islands and node groups.

Two labellings of an hsnet-deploy ONNX graph, read off its data flow, op types, module
paths and inferred shapes (so they hold for the episode graph, the split pair, and for
the FP16 / INT8 files made from them):

**Islands** (:func:`island_nodes`) are computed in float32 whatever the file's precision:

    mask resize       every node computed from ``support_masks`` (and constants) alone:
                      the constant-matrix MatMuls R_h · M · R_wᵀ whose tiny weights
                      underflow in FP16 (docs/protocol.md: the exact-zero parity trap)
    l2 normalisation  f / (‖f‖₂ + ε): each ReduceL2 and the Add / Div that use it
    group norm        GroupNorm's statistics: every non-Reshape node of a learner module
                      that takes a square root (mean, x - mean, (x - mean)², variance, ε,
                      √, divide, and the affine scale / shift after them)
    vote              everything computed from the ``logits`` output (the K-shot vote)

**Node groups** (:func:`quantizable_groups`) label the nodes INT8 may touch, the Convs
and the correlation MatMuls (a MatMul of two computed tensors), for sensitivity analysis
and mixed precision:

    backbone /4 .. /32    a backbone Conv, by its output stride S / H_out (the stem's /2
                          goes with /4); query and support backbones together
    correlation /8 ..     a correlation MatMul (B, H_q W_q, H_s W_s), by its support
                          grid's stride S / √(H_s W_s)
    squeeze layer4 ..     the Convs of a squeezing block (``encoder_layer{4,3,2}``)
    mix 4to3, mix 3to2    the Convs of a mixing block
    decoder               the decoder's Convs

**Carried nodes** (:func:`int8_carried_nodes`) are the data-movement nodes INT8 also
quantizes: a Reshape, Transpose, Slice, Split, Concat or Clip (min 0) outside the islands
whose every output reaches only quantized Convs / MatMuls, through more such nodes, and
no graph output. The value would be quantized at that Conv's input anyway; quantizing it
before the move lets a runtime move 8-bit numbers instead of 32-bit ones (OpenVINO ran
the 400x400 query graph about 12 % faster with them: the correlation's Concat and ReLU, the
feature transposes and splits, the center-pivot pivots and permutes).

A Cast, QuantizeLinear or DequantizeLinear between two nodes (what FP16 and INT8
conversion insert) is looked through, so the labels are the same before and after.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Mapping, Optional

from ...runtime.graph_contract import KEY_IMG_SIZE, metadata_of

if TYPE_CHECKING:  # onnx is imported by the functions that read graphs: learner_block needs none
    import numpy as np
    import onnx

MASK_RESIZE, L2_NORM, GROUP_NORM, VOTE = "mask resize", "l2 normalisation", "group norm", "vote"
ISLANDS = (MASK_RESIZE, L2_NORM, GROUP_NORM, VOTE)
SUPPORT_MASKS, LOGITS = "support_masks", "logits"
PASS_THROUGH = frozenset({"Cast", "QuantizeLinear", "DequantizeLinear"})
_BLOCK = re.compile(r"/hpn_learner/(encoder_layer(?:4to3|3to2|[432])|decoder[12])[./]")
_NORM_CHAIN = frozenset({"Add", "Max", "Clip"})  # between ReduceL2 and the Div: the ε
CARRY_OPS = ("Reshape", "Transpose", "Slice", "Split", "Concat", "Clip")  # exact on 8-bit values (module doc)
SQUEEZE, MIX, DECODER = "squeeze", "mix", "decoder"  # the learner's block kinds


def learner_block(name: str) -> Optional[tuple[str, str]]:
    """A node name's learner block: ("squeeze", "4") for ``encoder_layer4``, ("mix",
    "4to3"), ("decoder", "1"); None outside the learner's blocks."""
    match = _BLOCK.search(name)
    if match is None:
        return None
    block = match.group(1)
    if block.startswith("decoder"):
        return DECODER, block[-1]
    detail = block[len("encoder_layer"):]
    return (MIX if "to" in detail else SQUEEZE), detail


def node_key(node: "onnx.NodeProto") -> str:
    """A node's name, or its first output where it has none (names are not required)."""
    return node.name or node.output[0]


def island_nodes(model: "onnx.ModelProto") -> dict[str, str]:
    """Node key -> island (one of :data:`ISLANDS`) for every node that must stay float32."""
    from ..onnx_graph import computed_only_from, downstream

    graph = model.graph
    islands: dict[str, str] = {}
    _, mask_nodes = computed_only_from(graph, SUPPORT_MASKS)  # the export's mask-resize check's rule
    for node in mask_nodes:
        islands[node_key(node)] = MASK_RESIZE
    for key in _l2_norm_nodes(graph):
        islands[key] = L2_NORM
    for key in _group_norm_nodes(graph):
        islands[key] = GROUP_NORM
    if LOGITS in {o.name for o in graph.output}:
        reached = downstream(graph, [LOGITS])
        for node in graph.node:
            if any(i in reached for i in node.input):
                islands[node_key(node)] = VOTE
    return islands


def _l2_norm_nodes(graph: "onnx.GraphProto") -> list[str]:
    from ..onnx_graph import consumers

    users = consumers(graph)
    keys = []
    for node in graph.node:
        if node.op_type != "ReduceL2":
            continue
        keys.append(node_key(node))
        frontier = list(node.output)
        while frontier:
            for user in users.get(frontier.pop(), []):
                if user.op_type in _NORM_CHAIN or user.op_type in PASS_THROUGH:
                    keys.append(node_key(user))
                    frontier.extend(user.output)
                elif user.op_type == "Div":
                    keys.append(node_key(user))  # f / norm: the island ends here
    return keys


def _group_norm_nodes(graph: "onnx.GraphProto") -> list[str]:
    modules = {node.name.rsplit("/", 1)[0] for node in graph.node
               if node.op_type == "Sqrt" and "/hpn_learner/" in node.name}
    return [node_key(n) for n in graph.node
            if n.op_type != "Reshape" and n.name.rsplit("/", 1)[0] in modules]


def _learner_group(name: str):
    block = learner_block(name)
    if block is None:
        return None
    kind, detail = block
    return {DECODER: DECODER, MIX: f"mix {detail}", SQUEEZE: f"squeeze layer{detail}"}[kind]


def _stride_of(img_size: int, side) -> int:
    """Output stride of a feature map of ``side`` pixels, as a power of two (at least 4)."""
    if not isinstance(side, int) or side <= 0:
        return 0
    return max(4, 2 ** round(math.log2(img_size / side)))


def quantizable_groups(model: "onnx.ModelProto", shapes: Mapping[str, list]) -> dict[str, str]:
    """Node key -> group for every Conv and correlation MatMul (see the module doc).

    shapes: inferred dims of the graph's tensors (``onnx_graph.Inferred.shapes``).
    """
    from ..onnx_graph import data_free_tensors, producers

    meta = metadata_of(model)
    img_size = int(meta.get(KEY_IMG_SIZE, "0") or 0)
    consts = data_free_tensors(model.graph)
    producer = producers(model.graph)
    islands = island_nodes(model)

    def source(name: str) -> str:  # look through Cast / Q / DQ
        node = producer.get(name)
        while node is not None and node.op_type in PASS_THROUGH:
            name = node.input[0]
            node = producer.get(name)
        return name

    groups: dict[str, str] = {}
    for node in model.graph.node:
        key = node_key(node)
        if key in islands or node.op_type not in ("Conv", "MatMul"):
            continue
        learner = _learner_group(node.name)
        if node.op_type == "Conv":
            if learner is not None:
                groups[key] = learner
            else:
                dims = shapes.get(node.output[0]) or []
                stride = _stride_of(img_size, dims[-1] if len(dims) == 4 else None)
                groups[key] = f"backbone /{stride}" if stride else "backbone"
        elif learner is None and not any(source(i) in consts for i in node.input):
            dims = shapes.get(node.output[0]) or []
            support_px = dims[-1] if dims else None
            side = int(round(math.sqrt(support_px))) if isinstance(support_px, int) and support_px > 0 else None
            stride = _stride_of(img_size, side)
            groups[key] = f"correlation /{stride}" if stride else "correlation"
    return groups


def int8_carried_nodes(model: "onnx.ModelProto", quantized) -> list[str]:
    """Node keys of the data-movement nodes to quantize along with the ``quantized``
    Convs / MatMuls (module doc), in graph order."""
    from ..onnx_graph import constant_values, consumers

    graph = model.graph
    quantized, islands, users = set(quantized), island_nodes(model), consumers(graph)
    outputs = {o.name for o in graph.output}
    constants = constant_values(graph) if any(n.op_type == "Clip" for n in graph.node) else {}
    carried: set[str] = set()

    def feeds_only_int8(node) -> bool:
        return all(out not in outputs and users.get(out) and
                   all(node_key(u) in quantized or node_key(u) in carried for u in users[out])
                   for out in node.output)

    for node in reversed(graph.node):  # topological order: consumers are decided first
        key = node_key(node)
        if node.op_type in CARRY_OPS and key not in islands and key not in quantized and feeds_only_int8(node):
            if node.op_type != "Clip" or _clips_at_zero_only(node, constants):
                carried.add(key)
    return [node_key(n) for n in graph.node if node_key(n) in carried]


def _clips_at_zero_only(node: "onnx.NodeProto", constants: Mapping[str, "np.ndarray"]) -> bool:
    """A Clip(min=0) with no max: the ReLU HSNet's correlation applies (exact on int8).
    constants: ``onnx_graph.constant_values`` of the graph."""
    low, high = (list(node.input[1:]) + ["", ""])[:2]  # opset >= 11: the bounds are inputs
    value = constants.get(low) if low and not high else None
    return value is not None and value.size == 1 and float(value.reshape(-1)[0]) == 0.0


def group_order(groups) -> list[str]:
    """Groups in the order of the network (backbone, correlation, squeeze, mix, decoder)."""
    def rank(group: str):
        kind = group.split(" ")[0]
        order = ["backbone", "correlation", "squeeze", "mix", "decoder"].index(kind)
        detail = group[len(kind):].strip()
        if detail.startswith("/"):
            return order, int(detail[1:] or 0), detail
        if kind == "squeeze":
            return order, -int(detail[-1]), detail
        return order, -int(detail[0]) if detail[:1].isdigit() else 0, detail
    return sorted(set(groups), key=rank)
