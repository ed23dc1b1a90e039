"""onnxruntime configurations: exported graphs through the runtime's Segmenter.

    episode graph     per episode: prepare_query + prepare_support (pre-processing),
                      network_logits (the graph), postprocess
    split graphs      prepare_support once (pre-processing + the support encoder, timed
                      as the one-off support encoding), then per query only
                      prepare_query, network_logits (the query graph), postprocess

The graph is timed as one "network" stage: onnxruntime cannot be cut into HSNet's stages.
"""

from __future__ import annotations

import time

import numpy as np

from ..runtime.postprocess import postprocess
from .configurations import CACHED_MODE, COST_EPISODE, COST_QUERY, EPISODE_MODE, Configuration, EpisodeOutput
from .staged_forward import NETWORK, POST, PRE
from ..hsnet.data.episode import Episode


class OnnxRuntimeConfiguration(Configuration):
    """Exported graphs through the runtime's Segmenter: the episode graph, or the split pair
    (support encoder run once in ``prepare``, query graph per query)."""

    backend = "onnxruntime"
    precision = "as exported"

    def __init__(self, key, label, segmenter, shots, img_size, source, parameter_counts: dict):
        super().__init__(label, shots, img_size, source)
        self.key = key
        self.segmenter = segmenter  # runtime.Segmenter over active OnnxRuntimeRunners
        self.mode = CACHED_MODE if segmenter.is_split else EPISODE_MODE
        self.cost_path = COST_QUERY if segmenter.is_split else COST_EPISODE
        self._parameter_counts = parameter_counts
        self._support = None

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
        shot_logits = seg.network_logits(query, support)[0]  # (K, 2, S, S)
        seconds[NETWORK] = time.perf_counter() - start

        start = time.perf_counter()
        mask = postprocess(shot_logits, original_size)
        seconds[POST] = time.perf_counter() - start
        return EpisodeOutput(mask, np.asarray(shot_logits, dtype=np.float32), seconds)

    def parameters(self) -> dict:
        return dict(self._parameter_counts)

    def device_description(self) -> str:
        providers = next(iter(self.segmenter.runners.values())).providers
        return "onnxruntime " + ",".join(p.replace("ExecutionProvider", "") for p in providers)

    # The segmenter (and its runners) is shared by the cases of every K; bench_models.open_onnx has the run's ExitStack close it.
