"""What a benchmark compares: one object per (way of running HSNet, K).

Every configuration runs the same end-to-end episode: the user's uint8 images and masks
-> pre-processing -> network -> per-shot logits -> resize to the query's size -> K-shot
vote, using the runtime's shared pure functions for the host parts. Only the network
part differs:

    baseline        the official way: eager PyTorch FP32, one full 1-shot forward per
                    shot (the query's features recomputed K times), nothing cached
    torch-batched   this toolkit's PyTorch model: query once, K supports as one batch
    torch-cached    support set encoded once (model.encode_support); per query only
                    model.forward_with_support
    onnxruntime-episode / onnxruntime-cached
                    the exported episode graph / the split graphs (support encoder run
                    once, query graph per query), through the runtime's Segmenter (Segmenter.load)
    CUDA only:      torch FP16 (autocast; mask resize and L2 norms kept FP32) and CUDA
                    graphs (torch.cuda.CUDAGraph of the static-shape network), for both
                    the batched episode and the cached-support query

``run(episode, staged)`` returns the mask, the network-size logits and seconds per stage:
with ``staged=True`` a PyTorch configuration times every network stage (query backbone,
support backbone + masking, correlation, squeezing, mixing, decoder); otherwise, and for
backends that cannot be cut, the network is one "network" stage.

This module holds the interface and the shared host-side pieces;
:mod:`torch_configuration` and :mod:`onnxruntime_configuration` the two backends.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np

from ..hsnet.data.episode import Episode

EPISODE_MODE = "episode"
CACHED_MODE = "cached-support"

# Which staged path gives a configuration's FLOPs (cost_counter on the meta device).
COST_OFFICIAL, COST_EPISODE, COST_QUERY = "official", "episode", "query"


@dataclass
class EpisodeOutput:
    mask: np.ndarray  # (h, w) uint8 at the query's original size
    logits: np.ndarray  # (K, 2, S, S) float32 at the network size
    seconds: dict = field(default_factory=dict)  # stage -> seconds


class Configuration(abc.ABC):
    """One way of running an episode at a fixed K."""

    key: str = "abstract"
    backend: str = "abstract"
    mode: str = EPISODE_MODE
    precision: str = "fp32"
    cost_path: str = COST_EPISODE
    can_stage: bool = False  # can time the network's stages one by one

    def __init__(self, label: str, shots: int, img_size: int, source: str):
        self.label = label
        self.shots = shots
        self.img_size = img_size
        self.source = source
        self.support_encode_seconds: list[float] = []  # cached modes: one-off support encodings
        self.notes: list[str] = []

    def prepare(self, episode: Episode, repeats: int = 3) -> None:
        """Set up for this support set (cached modes encode it here, timed ``repeats`` times)."""

    @abc.abstractmethod
    def run(self, episode: Episode, staged: bool = False) -> EpisodeOutput:
        """One episode end to end."""

    def finish_staged(self, samples: list[dict]) -> list[dict]:
        """After the staged passes: the per-episode stage seconds as they should be reported
        (a backend that profiles its staged runs fills them in here)."""
        return samples

    def parameters(self) -> dict:
        return {"learnable": None, "total": None}

    def device_description(self) -> str:
        return "cpu"

    def close(self) -> None:
        pass
