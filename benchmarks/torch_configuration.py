"""PyTorch configurations: the baseline, batched-K, cached-support; FP16 and CUDA graphs.

The network part of an episode is one of three paths (see :mod:`staged_forward`):

    official   K full 1-shot forward passes, the query recomputed each time (baseline)
    episode    model(query, supports, masks): query once, K supports as one batch
    query      model.forward_with_support(query, *cached): support set encoded once

FP16 is the runtime's ``autocast`` (``runtime.pytorch.runner``: ``torch.autocast(float16)``,
the context every PyTorch runner uses); the model keeps its support-mask resize in FP32
with device-resident matrices itself (``hsnet.mask_resize``), and autocast runs norms and
GroupNorm in FP32. Pre-processing is the runtime's too (``preprocess_image``,
``preprocess_support``), so every configuration feeds the network the same numbers.
A CUDA graph records the network once on static input buffers (after a warm-up on a
side stream, as CUDA-graph capture requires) and ``run`` replays it; the host parts
(pre/post-processing, copies into the static buffers) stay outside the graph.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

import numpy as np

from ..hsnet.data.episode import Episode
from ..runtime.postprocess import postprocess
from ..runtime.preprocess import preprocess_image, preprocess_support
from ..runtime.pytorch.runner import autocast
from .configurations import (
    CACHED_MODE,
    COST_OFFICIAL,
    COST_QUERY,
    EPISODE_MODE,
    Configuration,
    EpisodeOutput,
)
from .staged_forward import (
    NETWORK,
    POST,
    PRE,
    StageObserver,
    staged_episode,
    staged_official,
    staged_query,
)


def _official(model, run: Callable):
    """``run()`` with the model in the official computation (``HSNet.official_computation``)."""
    with model.official_computation():
        return run()


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

    # ---- helpers ---------------------------------------------------------------------
    def _sync(self) -> None:
        if self.device.type == "cuda":
            self._torch.cuda.synchronize(self.device)

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
            # the official code's order of work (NATIVE layout, one batched correlation product)
            if observer is not None:
                return lambda q, s, m: _official(model, lambda: staged_official(model, q, s, m, observer))
            torch = self._torch
            # exactly the official loop: K full forward passes of the 1-shot model
            return lambda q, s, m: _official(model, lambda: torch.cat([model(q, s[:, k : k + 1], m[:, k : k + 1]) for k in range(s.shape[1])], dim=1))
        if observer is not None:
            return lambda q, s, m: staged_episode(model, q, s, m, observer)
        return lambda q, s, m: model(q, s, m)

    def _host_inputs(self, episode: Episode) -> tuple:
        """(query (1, 3, S, S),) or (query, supports (1, K, 3, S, S), masks (1, K, S, S)), float32."""
        query = preprocess_image(episode.query_image, self.img_size)[None]
        if self.cost_path == COST_QUERY:
            return (query,)
        return (query,) + preprocess_support(episode.support_images, episode.support_masks, self.img_size)

    # ---- lifecycle -------------------------------------------------------------------
    def prepare(self, episode: Episode, repeats: int = 3) -> None:
        torch = self._torch
        if self.cost_path == COST_QUERY:
            for _ in range(max(1, repeats)):
                start = time.perf_counter()  # pre-processing + encoding, as the runtime's set_support
                images, masks = preprocess_support(episode.support_images, episode.support_masks, self.img_size)
                with torch.inference_mode(), autocast(self.device, self.precision):
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
        with torch.no_grad(), autocast(self.device, self.precision), torch.cuda.stream(side):
            for _ in range(3):  # warm-up on a side stream: allocator, cuDNN plans, resize matrices
                network(*static)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), autocast(self.device, self.precision), torch.cuda.graph(graph):
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
            with torch.inference_mode(), autocast(self.device, self.precision):
                logits = self._network(timer)(*inputs)
            seconds.update(timer.collect())
        else:
            with torch.inference_mode(), autocast(self.device, self.precision):
                logits = self._network(None)(*inputs)
            self._sync()
            seconds[NETWORK] = time.perf_counter() - start

        start = time.perf_counter()
        shot_logits = logits[0].float().cpu().numpy()  # (K, 2, S, S)
        mask = postprocess(shot_logits, episode.query_image.shape[:2])
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
