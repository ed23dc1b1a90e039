"""Per-stage times of an onnxruntime graph, from onnxruntime's own profiler.

onnxruntime times every node of the graph *it* runs (after its fusions and layout
changes), so the stages are read off that optimised graph, saved beside the profile:

    learner nodes    by the module path in their name: ``/hpn_learner/encoder_layer{4,3,2}``
                     squeezing blocks, ``encoder_layer{4to3,3to2}`` mixing blocks,
                     ``decoder{1,2}`` decoder
    everything else  by data flow, in graph order:
                     - after the learner (its producers in a learner stage): the latest
                       stage among its producers (squeeze < mix < decoder), at least
                       "mixing blocks" for learner-level MatMul / Add / ReduceMean (the
                       query-dim upsample, the merge of two levels, the mean over the
                       support dims); the final resize and the vote land in the decoder
                     - before it, by the graph inputs it depends on: only the query image
                       -> query backbone; only support images / masks -> support backbone
                       + masking; anything else (query and support, or the cached
                       support features of a query graph) -> correlation

A node that reads no graph input (an INT8 graph's DequantizeLinear of its weights)
belongs to the stage of the node that reads it; one nothing reaches stays
"unattributed", and the tests require every node of the exported graphs to get a stage.
For TensorRT, :func:`stage_of_layer` maps an engine layer (named after the ONNX nodes it
fused, joined by " + ") onto the same stages.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Mapping

from .staged_forward import (
    CORRELATION,
    DECODER,
    MIX,
    QUERY_BACKBONE,
    SQUEEZE,
    SUPPORT_BACKBONE,
    UNATTRIBUTED,
)

PIPELINE = (QUERY_BACKBONE, SUPPORT_BACKBONE, CORRELATION, SQUEEZE, MIX, DECODER)  # data-flow order
_LEARNER_STAGES = (SQUEEZE, MIX, DECODER)
_MIX_LEVEL_OPS = {"MatMul", "FusedMatMul", "Add", "ReduceMean"}
QUERY_INPUTS = frozenset({"query_img"})
SUPPORT_IMAGE_INPUTS = frozenset({"support_imgs", "support_masks"})


def _block_stage(name: str):
    from ..export.precision import (
        node_groups,  # one parser of the learner's module paths
    )

    block = node_groups.learner_block(name)
    if block is None:
        return None
    return {node_groups.SQUEEZE: SQUEEZE, node_groups.MIX: MIX, node_groups.DECODER: DECODER}[block[0]]


def node_stages(model) -> dict[str, str]:
    """Node name -> stage for every node of ``model`` (an onnx.ModelProto, topologically sorted)."""
    graph = model.graph
    deps: dict[str, frozenset] = {i.name: frozenset({i.name}) for i in graph.input}
    producer_stage: dict[str, str] = {}  # tensor -> stage of the learner-or-later node that made it
    stages: dict[str, str] = {}
    for node in graph.node:
        inputs = [t for t in node.input if t]
        node_deps = frozenset().union(*(deps.get(t, frozenset()) for t in inputs))
        later = [producer_stage[t] for t in inputs if t in producer_stage]
        stage = _block_stage(node.name)
        if stage is None and later:
            stage = max(later, key=PIPELINE.index)
            if "/hpn_learner/" in node.name and node.op_type in _MIX_LEVEL_OPS and PIPELINE.index(stage) < PIPELINE.index(MIX):
                stage = MIX
        if stage is None:
            if not node_deps:
                stage = UNATTRIBUTED
            elif node_deps <= QUERY_INPUTS:
                stage = QUERY_BACKBONE
            elif node_deps <= SUPPORT_IMAGE_INPUTS:
                stage = SUPPORT_BACKBONE
            else:
                stage = CORRELATION
        stages[node.name] = stage
        for t in node.output:
            deps[t] = node_deps
            if stage in _LEARNER_STAGES:
                producer_stage[t] = stage
    return _constants_to_consumers(graph, stages)


def _constants_to_consumers(graph, stages: dict[str, str]) -> dict[str, str]:
    """Nodes that read no graph input (an INT8 graph's DequantizeLinear of its int8 weights,
    a weight transpose) belong to the stage of the first node that reads them."""
    readers: dict[str, list[str]] = defaultdict(list)
    for node in graph.node:
        for t in node.input:
            readers[t].append(node.name)
    for node in reversed(graph.node):  # consumers come later in a sorted graph: resolve them first
        if stages[node.name] != UNATTRIBUTED:
            continue
        found = [stages[r] for t in node.output for r in readers.get(t, ()) if stages[r] != UNATTRIBUTED]
        if found:
            stages[node.name] = found[0]
    return stages


def stage_of_layer(layer_name: str, stages: Mapping[str, str]) -> str:
    """Stage of a TensorRT layer named after the ONNX nodes it fused ("a + b + ..."): the
    latest pipeline stage among the nodes named in it."""
    found = [stages[part.strip()] for part in layer_name.split(" + ") if part.strip() in stages]
    found = [s for s in found if s != UNATTRIBUTED]
    return max(found, key=PIPELINE.index) if found else UNATTRIBUTED


def read_profile(path) -> list[dict[str, float]]:
    """Per run of an onnxruntime profile: node name -> seconds (kernel time)."""
    events = json.loads(Path(path).read_text())
    runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")
    per_run: list[dict[str, float]] = [defaultdict(float) for _ in runs]
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        for i, (start, end) in enumerate(runs):
            if start <= e["ts"] <= end:
                per_run[i][e["name"][: -len("_kernel_time")]] += e["dur"] / 1e6
                break
    return [dict(r) for r in per_run]


def stage_seconds(node_seconds: Mapping[str, float], stages: Mapping[str, str]) -> dict[str, float]:
    """Sum node times per stage; nodes missing from ``stages`` count as unattributed."""
    out: dict[str, float] = defaultdict(float)
    for name, seconds in node_seconds.items():
        out[stages.get(name, UNATTRIBUTED)] += seconds
    return dict(out)


def op_seconds(node_seconds: Mapping[str, float], model) -> dict[str, float]:
    """Sum node times per operator type of the optimised graph (e.g. the Transpose share)."""
    types = {n.name: n.op_type for n in model.graph.node}
    out: dict[str, float] = defaultdict(float)
    for name, seconds in node_seconds.items():
        out[types.get(name, "?")] += seconds
    return dict(out)


class ProfiledRuns:
    """What :meth:`SessionProfile.finish` gives: per-run node times and the optimised graph."""

    def __init__(self) -> None:
        self.node_seconds: list[dict[str, float]] = []
        self.model = None
        self.stages: dict[str, str] = {}

    def per_stage(self) -> list[dict[str, float]]:
        return [stage_seconds(run, self.stages) for run in self.node_seconds]

    def per_op(self) -> list[dict[str, float]]:
        return [op_seconds(run, self.model) for run in self.node_seconds]


class SessionProfile:
    """A profiling session built by a runtime loader (same threads, providers, graph options
    as the runner it came from); a runner uses it only inside
    ``runner.running_through(profile.session)``, so a runner shared by several configurations
    is never left pointing at it."""

    def __init__(self, loader) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="hsnet-ort-profile-")
        self._optimized = Path(self._tmp.name) / "optimized.onnx"
        self.session = loader.session(profile_prefix=str(Path(self._tmp.name) / "profile"), optimized_model_path=str(self._optimized))

    def finish(self) -> ProfiledRuns:
        """End profiling; the runs, the optimised graph and its stages."""
        import onnx

        result = ProfiledRuns()
        try:
            profile = self.session.end_profiling()
            result.model = onnx.load(str(self._optimized), load_external_data=False)
            result.stages = node_stages(result.model)
            result.node_seconds = read_profile(profile)
        finally:
            self.session = None
            self._tmp.cleanup()
        return result
