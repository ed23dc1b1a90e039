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
                    once, query graph per query), through the runtime's OnnxRuntimeRunner
    CUDA only:      torch FP16 (autocast; mask resize and L2 norms kept FP32) and CUDA
                    graphs (torch.cuda.CUDAGraph of the static-shape network), for both
                    the batched episode and the cached-support query

``run(episode, staged)`` returns the mask, the network-size logits and seconds per stage:
with ``staged=True`` a PyTorch configuration times every network stage (query backbone,
support backbone + masking, correlation, squeezing, mixing, decoder); otherwise, and for
backends that cannot be cut, the network is one "network" stage.
"""

from __future__ import annotations

import abc
import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..runtime.postprocess import postprocess
from ..runtime.preprocess import preprocess_image, preprocess_mask
from .staged_forward import NETWORK, POST, PRE, StageObserver, staged_episode, staged_official, staged_query
from .synthetic_episode import Episode

EPISODE_MODE = "episode"
CACHED_MODE = "cached-support"

# Which staged path gives a configuration's FLOPs (cost_counter on the meta device).
COST_OFFICIAL, COST_EPISODE, COST_QUERY = "official", "episode", "query"


@dataclass
class EpisodeOutput:
    mask: np.ndarray  # (h, w) uint8 at the query's original size
    logits: np.ndarray  # (K, 2, S, S) float32 at the network size
    seconds: dict = field(default_factory=dict)  # stage -> seconds


def preprocess_support(episode: Episode, size: int) -> tuple[np.ndarray, np.ndarray]:
    """-> support images (1, K, 3, S, S), masks (1, K, S, S), float32."""
    images = np.stack([preprocess_image(img, size) for img in episode.supports])[None]
    masks = np.stack([preprocess_mask(m, size) for m in episode.masks])[None]
    return images, masks


def preprocess_query(episode: Episode, size: int) -> np.ndarray:
    return preprocess_image(episode.query, size)[None]  # (1, 3, S, S)


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

    def parameters(self) -> dict:
        return {"learnable": None, "total": None}

    def device_description(self) -> str:
        return "cpu"

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------------- torch


class TorchConfiguration(Configuration):
    """The PyTorch model on one device, FP32 or FP16 autocast, optionally as a CUDA graph."""

    backend = "torch"

    def __init__(self, key, label, model, device, shots, img_size, source, path, precision="fp32", cuda_graph=False):
        super().__init__(label, shots, img_size, source)
        import torch

        self._torch = torch
        self.key = key
        self.model = model
        self.device = device
        self.cost_path = path
        self.mode = CACHED_MODE if path == COST_QUERY else EPISODE_MODE
        self.precision = precision
        self.cuda_graph = cuda_graph
        self.can_stage = not cuda_graph
        self._support_feats = None
        self._graph = None
        self._static_inputs: tuple = ()
        self._static_output = None
        self._resize = None
        if precision == "fp16" or cuda_graph:
            from .mask_resize_patch import ResidentMaskResize

            self._resize = ResidentMaskResize()

    # ---- helpers ---------------------------------------------------------------------
    def _sync(self) -> None:
        if self.device.type == "cuda":
            self._torch.cuda.synchronize(self.device)

    def _numerics(self):
        """The context the network runs in: autocast for FP16, the resident mask resize."""
        stack = contextlib.ExitStack()
        if self._resize is not None:
            from .mask_resize_patch import resident_fp32_mask_resize

            stack.enter_context(resident_fp32_mask_resize(self._resize))
        if self.precision == "fp16":
            # cache off: required for CUDA-graph capture, harmless otherwise
            stack.enter_context(self._torch.autocast(self.device.type, dtype=self._torch.float16, cache_enabled=False))
        return stack

    def _to_device(self, array: np.ndarray):
        return self._torch.from_numpy(array).to(self.device)

    def _network(self, observer: Optional[StageObserver]) -> Callable:
        """(device tensors...) -> logits (1, K, 2, S, S), plain or staged."""
        model = self.model
        if self.cost_path == COST_QUERY:
            if observer is not None:
                return lambda q: staged_query(model, q, self._support_feats, observer)
            return lambda q: model.forward_with_support(q, *self._support_feats)
        if self.cost_path == COST_OFFICIAL:
            if observer is not None:
                return lambda q, s, m: staged_official(model, q, s, m, observer)
            torch = self._torch
            # exactly the official loop: K full forward passes of the 1-shot model
            return lambda q, s, m: torch.cat([model(q, s[:, k : k + 1], m[:, k : k + 1]) for k in range(s.shape[1])], dim=1)
        if observer is not None:
            return lambda q, s, m: staged_episode(model, q, s, m, observer)
        return lambda q, s, m: model(q, s, m)

    def _host_inputs(self, episode: Episode) -> tuple:
        query = preprocess_query(episode, self.img_size)
        if self.cost_path == COST_QUERY:
            return (query,)
        return (query,) + preprocess_support(episode, self.img_size)

    # ---- lifecycle -------------------------------------------------------------------
    def prepare(self, episode: Episode, repeats: int = 3) -> None:
        torch = self._torch
        if self.cost_path == COST_QUERY:
            for _ in range(max(1, repeats)):
                start = time.perf_counter()  # pre-processing + encoding, as the runtime's set_support
                images, masks = preprocess_support(episode, self.img_size)
                with torch.inference_mode(), self._numerics():
                    feats = self.model.encode_support(self._to_device(images), self._to_device(masks))
                self._sync()
                self.support_encode_seconds.append(time.perf_counter() - start)
            self._support_feats = feats
        if self.cuda_graph:
            self._capture(episode)

    def _capture(self, episode: Episode) -> None:
        """Record the network once on static input buffers; run() then replays it."""
        torch = self._torch
        static = tuple(self._to_device(a) for a in self._host_inputs(episode))
        network = self._network(None)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.no_grad(), self._numerics(), torch.cuda.stream(side):
            for _ in range(3):  # warm-up on a side stream: allocator, cuDNN plans, resize matrices
                network(*static)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), self._numerics(), torch.cuda.graph(graph):
            self._static_output = network(*static)
        self._graph, self._static_inputs = graph, static

    def run(self, episode: Episode, staged: bool = False) -> EpisodeOutput:
        torch = self._torch
        seconds: dict[str, float] = {}
        start = time.perf_counter()
        host = self._host_inputs(episode)
        if self._graph is not None:
            for buffer, array in zip(self._static_inputs, host):
                buffer.copy_(torch.from_numpy(array))
            inputs = self._static_inputs
        else:
            inputs = tuple(self._to_device(a) for a in host)
        self._sync()
        seconds[PRE] = time.perf_counter() - start

        start = time.perf_counter()
        if self._graph is not None:
            self._graph.replay()
            logits = self._static_output
            self._sync()
            seconds[NETWORK] = time.perf_counter() - start
        elif staged and self.can_stage:
            from .stage_timers import network_stage_timer

            timer = network_stage_timer(self.device)
            with torch.inference_mode(), self._numerics():
                logits = self._network(timer)(*inputs)
            seconds.update(timer.collect())
        else:
            with torch.inference_mode(), self._numerics():
                logits = self._network(None)(*inputs)
            self._sync()
            seconds[NETWORK] = time.perf_counter() - start

        start = time.perf_counter()
        shot_logits = logits[0].float().cpu().numpy()  # (K, 2, S, S)
        mask = postprocess(shot_logits, episode.query.shape[:2])
        seconds[POST] = time.perf_counter() - start
        return EpisodeOutput(mask, shot_logits, seconds)

    def parameters(self) -> dict:
        return {
            "learnable": sum(p.numel() for p in self.model.hpn_learner.parameters()),
            "total": sum(p.numel() for p in self.model.parameters()),
        }

    def device_description(self) -> str:
        if self.device.type == "cuda":
            return f"cuda ({self._torch.cuda.get_device_name(self.device)})"
        return f"cpu ({self._torch.get_num_threads()} threads)"

    def close(self) -> None:
        self._graph = None
        self._static_inputs = ()
        self._static_output = None
        self._support_feats = None


# ----------------------------------------------------------------------------- onnxruntime


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
            support = self.segmenter.prepare_support(list(episode.supports), list(episode.masks))
            self.support_encode_seconds.append(time.perf_counter() - start)
        self._support = support

    def run(self, episode: Episode, staged: bool = False) -> EpisodeOutput:
        seg = self.segmenter
        seconds: dict[str, float] = {}
        start = time.perf_counter()
        query, original_size = seg.prepare_query(episode.query)  # (1, 3, S, S), (h, w)
        support = self._support if self.mode == CACHED_MODE else seg.prepare_support(list(episode.supports), list(episode.masks))
        seconds[PRE] = time.perf_counter() - start

        start = time.perf_counter()
        shot_logits = seg.network_logits(query, support)  # (K, 2, S, S)
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

    # The segmenter (and its runners) is shared by the cases of every K; the session closes it.
