"""Which node groups INT8 hurts, and a mixed precision that holds the INT8 gate.

    with Int8Trials(episode_model, options, n_episodes=100) as trials:
        report = measure_sensitivity(trials)
    chosen = choose_float_groups(models, options, gate=1.0, n_episodes=100)

For each node group g of :mod:`node_groups` (backbone stages, correlation per level,
squeezing blocks, mixing blocks, decoder), the episode graph is quantized with *only* g
in INT8 (the rest float32; the activation ranges are calibrated once and reused from
onnxruntime's calibration cache), and scored on other training-split episodes (the
calibration source drawn with seed + 1: a different draw from the calibration episodes,
and never a test episode) against the FP32 graph on the same episodes:

    ΔmIoU_g       mIoU(FP32) - mIoU(only g INT8), official metric over the source's classes
    logit error   max |z_g - z| / (max z - min z) and mean |z_g - z| (z: FP32 logits)

``--int8-auto`` starts from everything INT8 and, while mIoU(FP32) - mIoU(INT8) exceeds
the gate, moves the most sensitive group still quantized (largest ΔmIoU_g, then largest
logit error) to float32, re-scoring after each move; the groups it moved are recorded
among the file's islands. The report (JSON, and a PNG chart beside it) holds every
group's numbers and every trial.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import UserError
from ..runtime.graph_contract import EPISODE, KEY_GRAPH, metadata_of


def _held_out_episodes(options, shots: int, n_episodes: int):
    """Training-split episodes of another draw than the calibration's (seed + 1)."""
    source = dataclasses.replace(options.calibration, seed=options.calibration.seed + 1, episodes=n_episodes)
    dataset = source.open(shots)
    episodes = [dataset.episode(n) for n in range(min(n_episodes, len(dataset)))]
    return episodes, dataset.class_ids, source.describe()


def _score(model, episodes, class_ids, reference=None):
    """(mIoU, logits per episode, logit errors against ``reference``) of one episode graph,
    run through the runtime's one inference path (``Segmenter.from_models``)."""
    from ..hsnet.evaluation.evaluate import SegmenterPredictor, predict_and_truth
    from ..hsnet.evaluation.metrics import MIoUAccumulator
    from ..runtime.segmenter import Segmenter

    accumulator = MIoUAccumulator(class_ids)
    logits_all, max_err, mean_err = [], 0.0, 0.0
    with Segmenter.from_models({EPISODE: model}, "onnxruntime") as segmenter:
        predictor = SegmenterPredictor(segmenter)
        for n, episode in enumerate(episodes):
            logits = predictor.network_logits(episode)  # (K, 2, S, S)
            pred, truth = predict_and_truth(logits, episode, False)
            accumulator.add(pred, truth, episode.class_id)
            logits_all.append(logits)
            if reference is not None:
                ref = reference[n]
                span = float(ref.max() - ref.min()) or 1.0
                diff = np.abs(logits - ref)
                max_err = max(max_err, float(diff.max()) / span)
                mean_err += float(diff.mean()) / len(episodes)
    return float(accumulator.miou()), logits_all, {"max_rel": max_err, "mean_abs": mean_err}


class Int8Trials:
    """One FP32 episode graph, its held-out episodes, FP32 reference and calibration cache:
    ``score(nodes)`` quantizes just ``nodes`` and scores the result against FP32."""

    def __init__(self, model, options, n_episodes: int = 100) -> None:
        from ..export.onnx_graph import Inferred
        from ..export.precision.convert import calibration_shots
        from ..export.precision.node_groups import quantizable_groups
        from .calibration_episodes import calibration_feeds

        meta = metadata_of(model)
        if meta.get(KEY_GRAPH) != EPISODE:
            raise UserError("sensitivity analysis runs on the episode graph (NAME.onnx)")
        shots = calibration_shots(model)
        self.model, self.options = model, options
        self.groups = quantizable_groups(model, Inferred.of(model).shapes)  # node -> group
        self.episodes, self.class_ids, self.held_out = _held_out_episodes(options, shots, n_episodes)
        self.calib = calibration_feeds(options.calibration, EPISODE, {EPISODE: model}, shots, progress=options.progress)
        self.fp32_miou, self.reference, _ = _score(model, self.episodes, self.class_ids)
        self._tmp = tempfile.TemporaryDirectory(prefix="hsnet_sensitivity_")
        self.cache = Path(self._tmp.name) / "ranges.json"  # activation ranges, computed on first use

    def nodes_without(self, float_groups) -> list[str]:
        return [n for n, g in self.groups.items() if g not in set(float_groups)]

    def score(self, nodes) -> tuple[float, dict]:
        from ..export.precision.int8 import quantize_int8

        nodes = list(nodes)
        if not nodes:  # every group in float32: the FP32 graph itself
            return self.fp32_miou, {"max_rel": 0.0, "mean_abs": 0.0}
        feeds = None if self.cache.is_file() else self.calib
        quantized = quantize_int8(self.model, feeds, self.options.method, list(nodes), self.cache)
        miou, _, err = _score(quantized, self.episodes, self.class_ids, self.reference)
        return miou, err

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> "Int8Trials":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def measure_sensitivity(trials: Int8Trials) -> dict:
    """The per-group report of the module doc (only one group INT8 at a time)."""
    from tqdm import tqdm

    from ..export.precision.node_groups import group_order

    report = {"fp32_miou": trials.fp32_miou, "episodes": len(trials.episodes), "held_out": trials.held_out,
              "calibration": trials.options.calibration.describe(), "calibration_episodes": len(trials.calib),
              "method": trials.options.method, "groups": {}}
    bar = tqdm(group_order(trials.groups.values()), desc="sensitivity", unit="group",
               disable=not trials.options.progress)
    for group in bar:
        bar.set_postfix_str(group)
        nodes = [n for n, g in trials.groups.items() if g == group]
        miou, err = trials.score(nodes)
        report["groups"][group] = {"nodes": len(nodes), "miou": miou, "delta_miou": trials.fp32_miou - miou, **err}
    bar.close()
    return report


def choose_float_groups(models: dict, options, gate: float = 1.0, n_episodes: int = 100,
                        report_path: Optional[str] = None) -> list[str]:
    """The groups ``--int8-auto`` keeps in float32 (see the module doc)."""
    from tqdm import tqdm

    if EPISODE not in models:
        raise UserError("--int8-auto measures on the episode graph: convert NAME.onnx, not a split graph alone")
    with Int8Trials(models[EPISODE], options, n_episodes) as trials:
        report = measure_sensitivity(trials)
        per_group = report["groups"]
        order = sorted(per_group, key=lambda g: (per_group[g]["delta_miou"], per_group[g]["max_rel"]), reverse=True)
        kept = list(options.float_groups)
        report["trials"] = []
        bar = tqdm(total=len(order) + 1, desc="int8-auto", unit="trial", disable=not options.progress)
        while True:
            miou, err = trials.score(trials.nodes_without(kept))
            report["trials"].append({"float_groups": list(kept), "miou": miou,
                                     "delta_miou": trials.fp32_miou - miou, **err})
            bar.update()
            remaining = [g for g in order if g not in kept]
            if trials.fp32_miou - miou <= gate or not remaining:
                break
            kept.append(remaining[0])
        bar.close()
    chosen = kept[len(options.float_groups):]
    report.update({"gate": gate, "chosen": chosen, "gate_met": report["trials"][-1]["delta_miou"] <= gate})
    if report_path:
        write_report(report, report_path)
    return chosen


def write_report(report: dict, path) -> None:
    """The report as JSON at ``path`` and as a chart at ``path`` + ``.png``."""
    from ..atomic_file import write_text_atomic
    from .sensitivity_chart import write_sensitivity_chart

    write_text_atomic(path, json.dumps(report, indent=2) + "\n")
    write_sensitivity_chart(report, str(path) + ".png")
