"""Per-stage times of a graph run by OpenVINO, from its own performance counters.

OpenVINO times every node of the graph it compiled (after its fusions and layout
reorders), ``InferRequest.get_profiling_info()``. Its node names keep the ONNX node they
came from, with additions:

    /layer1/layer1.0/conv2/Conv/WithoutBiases        the Conv node "/layer1/layer1.0/conv2/Conv"
    query_img_abcd_acdb_/conv1/Conv/WithoutBiases    a layout reorder before "/conv1/Conv"

so an OpenVINO node belongs to the longest ONNX node name it contains, and takes that
node's stage (:func:`onnxruntime_stages.node_stages`, the one stage rule for both
runtimes). Nodes OpenVINO made itself (``Multiply_116363``, ``Power_104690``: the
scales of INT8 dequantisation and the like, 28 % of the INT8 query graph's time at
400x400) carry no ONNX name; the profile lists nodes in execution order, so such a node
takes the stage of the node run just before it. Only one with nothing before it stays
"unattributed".
"""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping

from .staged_forward import UNATTRIBUTED


def stage_lookup(stages_by_node: Mapping[str, str]):
    """OpenVINO node name -> stage, by the longest ONNX node name it contains."""
    names = sorted((n for n in stages_by_node if n), key=len, reverse=True)
    cache: dict[str, str] = {}

    def stage(ov_name: str) -> str:
        if ov_name not in cache:
            found = stages_by_node.get(ov_name) or next((stages_by_node[n] for n in names if n in ov_name), UNATTRIBUTED)
            cache[ov_name] = found
        return cache[ov_name]

    return stage


def per_stage_seconds(profiling_info, stage_of) -> dict[str, float]:
    """Seconds per stage of one run's ``get_profiling_info()`` (nodes that did not run: 0)."""
    seconds: dict[str, float] = defaultdict(float)
    previous = UNATTRIBUTED
    for node in profiling_info:  # execution order
        stage = stage_of(node.node_name)
        if stage == UNATTRIBUTED:
            stage = previous  # a node OpenVINO made: the stage it runs in
        seconds[stage] += node.real_time.total_seconds()
        previous = stage
    return dict(seconds)


class OpenVinoProfile:
    """A profiling infer request for an OpenVINO runner, and the per-stage seconds of each run."""

    def __init__(self, runner) -> None:
        import onnx

        from .onnxruntime_stages import node_stages

        self.request = runner.loader.requests(profiling=True)
        self.stage_of = stage_lookup(node_stages(onnx.load(str(runner.path), load_external_data=False)))
        self.runs: list[dict[str, float]] = []

    def record(self) -> None:
        self.runs.append(per_stage_seconds(self.request.get_profiling_info(), self.stage_of))
