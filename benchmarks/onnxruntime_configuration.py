"""onnxruntime (and OpenVINO) configurations: exported graphs through the runtime's Segmenter.

    episode graph     per episode: prepare_query + prepare_support (pre-processing),
                      network_logits (the graph), postprocess
    split graphs      prepare_support once (pre-processing + the support encoder, timed
                      as the one-off support encoding), then per query only
                      prepare_query, network_logits (the query graph), postprocess

In the timed episodes the graph is one "network" stage. The staged episodes run the same
graph under onnxruntime's profiler (a second session from the same loader: same threads,
providers and graph options; one unprofiled-in-the-result warm-up run first) and split
its node times into HSNet's stages (:mod:`onnxruntime_stages`); the operator times of
those runs (e.g. the Transpose share) go to the report too. On OpenVINO (the same files,
``bench --onnx-backends onnxruntime,openvino``) a second compile with performance counters
does the same (:mod:`openvino_stages`).
"""

from __future__ import annotations

import time

import numpy as np

from ..hsnet.data.episode import Episode
from ..runtime.graph_contract import EPISODE, QUERY
from ..runtime.postprocess import postprocess
from .configurations import (
    CACHED_MODE,
    COST_EPISODE,
    COST_QUERY,
    EPISODE_MODE,
    Configuration,
    EpisodeOutput,
)
from .onnxruntime_stages import SessionProfile
from .staged_forward import NETWORK, POST, PRE


class OnnxRuntimeConfiguration(Configuration):
    """Exported graphs through the runtime's Segmenter: the episode graph, or the split pair
    (support encoder run once in ``prepare``, query graph per query)."""

    backend = "onnxruntime"
    precision = "as exported"
    can_stage = True  # through onnxruntime's profiler, or OpenVINO's performance counters

    def __init__(self, key, label, segmenter, shots, img_size, source, parameter_counts: dict):
        super().__init__(label, shots, img_size, source)
        self.key = key
        self.segmenter = segmenter  # runtime.Segmenter over active OnnxRuntimeRunners
        self.precision = segmenter.precision  # recorded in the graphs: fp32, fp16, int8 or a mix
        self.backend = segmenter.backend  # onnxruntime, or openvino (same files, same Segmenter path)
        # staged through the runtime's own profiler: onnxruntime's, or OpenVINO's performance counters
        self._ov_profile = None
        self.mode = CACHED_MODE if segmenter.is_split else EPISODE_MODE
        self.cost_path = COST_QUERY if segmenter.is_split else COST_EPISODE
        self._parameter_counts = parameter_counts
        self._support = None
        self._profile: SessionProfile | None = None
        self.op_seconds: list[dict[str, float]] = []  # per staged episode: operator type -> seconds

    def prepare(self, episode: Episode, repeats: int = 3) -> None:
        if self.mode != CACHED_MODE:
            return
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            support = self.segmenter.prepare_support(episode.support_images, episode.support_masks)
            self.support_encode_seconds.append(time.perf_counter() - start)
        self._support = support

    def run(self, episode: Episode, staged: bool = False) -> EpisodeOutput:
        seg = self.segmenter
        seconds: dict[str, float] = {}
        start = time.perf_counter()
        query, original_size = seg.prepare_query(episode.query_image)  # (1, 3, S, S), (h, w)
        support = self._support if self.mode == CACHED_MODE else seg.prepare_support(episode.support_images, episode.support_masks)
        seconds[PRE] = time.perf_counter() - start

        start = time.perf_counter()
        if staged:
            shot_logits = self._profiled_logits(query, support)
        else:
            shot_logits = seg.network_logits(query, support)[0]  # (K, 2, S, S)
        seconds[NETWORK] = time.perf_counter() - start

        start = time.perf_counter()
        mask = postprocess(shot_logits, original_size)
        seconds[POST] = time.perf_counter() - start
        return EpisodeOutput(mask, np.asarray(shot_logits, dtype=np.float32), seconds)

    def _profiled_logits(self, query, support):
        runner = self.segmenter.runners[QUERY if self.mode == CACHED_MODE else EPISODE]
        if self.backend == "openvino":
            return self._openvino_profiled_logits(runner, query, support)
        if self._profile is None:
            self._profile = SessionProfile(runner.loader)
            with runner.running_through(self._profile.session):
                self.segmenter.network_logits(query, support)  # warm-up of the fresh session, dropped in finish_staged
        with runner.running_through(self._profile.session):
            return self.segmenter.network_logits(query, support)[0]  # (K, 2, S, S)

    def _openvino_profiled_logits(self, runner, query, support):
        from .openvino_stages import OpenVinoProfile

        if self._ov_profile is None:
            self._ov_profile = OpenVinoProfile(runner)
            with runner.running_through(self._ov_profile.request):
                self.segmenter.network_logits(query, support)  # warm-up of the fresh request, not recorded
        with runner.running_through(self._ov_profile.request):
            logits = self.segmenter.network_logits(query, support)[0]  # (K, 2, S, S)
        self._ov_profile.record()
        return logits

    def finish_staged(self, samples: list[dict]) -> list[dict]:
        """Replace each staged episode's "network" by its profiled stages (warm-up run dropped)."""
        if self._ov_profile is not None:
            per_stage, self._ov_profile = self._ov_profile.runs, None
        elif self._profile is None:
            return samples
        else:
            runs = self._profile.finish()
            self._profile = None
            per_stage = runs.per_stage()[1:]
            self.op_seconds = runs.per_op()[1:]
        out = []
        for sample, stages in zip(samples, per_stage):
            merged = {k: v for k, v in sample.items() if k != NETWORK}
            merged.update(stages)
            out.append(merged)
        return out

    def parameters(self) -> dict:
        return dict(self._parameter_counts)

    def device_description(self) -> str:
        runner = next(iter(self.segmenter.runners.values()))
        if self.backend == "openvino":
            return f"openvino {runner.loader.device}, {runner.loader.precision} inference"
        return "onnxruntime " + ",".join(p.replace("ExecutionProvider", "") for p in runner.providers)

    # The segmenter (and its runners) is shared by the cases of every K; bench_models.open_onnx has the run's ExitStack close it.
