"""``Segmenter``: few-shot segmentation on images of any size, on any backend.

    seg = Segmenter.load("hsnet.onnx")              # or .engine, .pt; split graphs if present
    mask = seg.segment(query, [support], [mask])    # (h, w) uint8 {0, 1} at the query's size

    seg.set_support(supports, masks)                # encode the support set once ...
    for q in queries:
        mask = seg.segment(q)                       # ... and run only the query path

    masks = seg.segment_batch([q1, q2, q3])         # B queries through one graph call

The one inference path every command shares (run, eval, bench, demo):

    support images + masks --preprocess_support--> (1, K, 3, S, S), (1, K, S, S)
        --support encoder (split graphs)--> cached features
    queries --preprocess_image--> (B, 3, S, S) --query or episode graph--> (B, K, 2, S, S)
        --postprocess (resize_logits to each query's (h, w), kshot_vote)--> masks

The pre/post-processing are the runtime's pure functions, so every backend sees the same
numbers. With split graphs (or a PyTorch model) ``set_support`` runs the support encoder
once and keeps its features; with only an episode graph it keeps the preprocessed support
tensors. Runners come from :mod:`backends` (``Segmenter.load`` / ``from_models``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence, Union

import numpy as np
from PIL import Image

from ..errors import UserError
from .backends import RuntimeOptions, activate_all, make_runners, open_runners
from .graph_contract import (
    DEFAULT_PRECISION,
    EPISODE,
    KEY_PRECISION,
    QUERY,
    SUPPORT_ENCODER,
    SUPPORT_FEATURES,
    GraphInfo,
)
from .images import ImageLike, MaskLike, as_image, as_mask, describe
from .model_files import ModelFiles
from .postprocess import postprocess
from .preprocess import preprocess_image, preprocess_support
from .resize import resize_logits
from .runner import Runner


@dataclass
class SupportSet:
    """A validated, preprocessed support set (and its encoding, with split graphs)."""

    images: np.ndarray  # (1, K, 3, S, S) float32
    masks: np.ndarray  # (1, K, S, S) float32 {0, 1}
    features: dict = field(default_factory=dict)  # support_c3/c2/c1 when encoded

    @property
    def shots(self) -> int:
        return int(self.images.shape[1])


def check_support_pair(image: np.ndarray, mask: np.ndarray, image_name: str, mask_name: str, allow_empty: bool = False) -> None:
    """A support mask must match its image's size and (unless ``allow_empty``) mark a pixel."""
    if mask.shape != image.shape[:2]:
        h, w = image.shape[:2]
        mh, mw = mask.shape
        raise UserError(f"mask {mask_name} is {mw}x{mh} but its image {image_name} is {w}x{h}")
    if not allow_empty and not mask.any():
        raise UserError(f"mask {mask_name} is empty: a support mask needs at least one foreground pixel")


def _as_list(items, what: str) -> list:
    if items is None:
        return []
    if isinstance(items, (str, os.PathLike, Image.Image, np.ndarray)):
        return [items]
    try:
        return list(items)
    except TypeError:
        raise UserError(f"{what} must be an image/mask or a list of them, got {type(items).__name__}") from None


def _repeat(array: np.ndarray, batch: int) -> np.ndarray:
    """(1, ...) -> (batch, ...): one support set for every query of a batch."""
    return array if batch == 1 else np.repeat(array, batch, axis=0)


class Segmenter:
    """Segments a query image given a few annotated support images."""

    def __init__(self, runners: Mapping[str, Runner]) -> None:
        """``runners``: active runners, {"episode": r} or {"support_encoder": r, "query": r}."""
        kinds = set(runners)
        if kinds not in ({EPISODE}, {SUPPORT_ENCODER, QUERY}):
            raise ValueError(f"need an episode runner or a support_encoder + query pair, got {sorted(kinds)}")
        self.runners = dict(runners)
        infos = {}
        for kind, runner in self.runners.items():
            info = getattr(runner, "info", None) or GraphInfo.from_metadata(runner.metadata, runner.path)
            info.require_kind(kind)
            infos[kind] = info
        if self.is_split:
            infos[SUPPORT_ENCODER].check_same_export(infos[QUERY])
        self.info: GraphInfo = infos[QUERY if self.is_split else EPISODE]
        self._check_input_size()
        self._support: Optional[SupportSet] = None

    # ---- construction ----------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: Union[str, os.PathLike, ModelFiles],
        device: str = "auto",
        img_size: Optional[int] = None,
        backbone: Optional[str] = None,
        options: Optional[RuntimeOptions] = None,
    ) -> "Segmenter":
        """Open a model file: ``.onnx`` (split graphs used when present), ``.engine``, ``.pt``.

        ``device``: "auto" (GPU when the backend has one), "cpu" or "cuda".
        ``img_size`` and ``backbone`` only matter for ``.pt`` checkpoints (default 400;
        backbone inferred from the checkpoint); exported graphs fix both. ``options``
        (threads, providers, memory, ...; see :class:`RuntimeOptions`) replaces the three.
        """
        if options is None:
            options = RuntimeOptions(device=device, img_size=img_size, backbone=backbone)
        source = str(path.paths.get(EPISODE) or path.paths[QUERY]) if isinstance(path, ModelFiles) else str(path)
        return cls._from_runners(open_runners(path, options), options.img_size, source)

    @classmethod
    def from_models(
        cls,
        models: Mapping[str, object],
        backend: str,
        options: Optional[RuntimeOptions] = None,
        metadata: Optional[Mapping[str, Mapping[str, str]]] = None,
    ) -> "Segmenter":
        """Graphs in memory (kind -> ONNX model / bytes / engine bytes / HSNet) -> Segmenter."""
        options = options or RuntimeOptions()
        runners = activate_all(make_runners(models, backend, options, metadata))
        return cls._from_runners(runners, options.img_size, f"in-memory {backend} model")

    @classmethod
    def _from_runners(cls, runners: dict, img_size: Optional[int], source: str) -> "Segmenter":
        try:
            segmenter = cls(runners)
            if img_size is not None and img_size != segmenter.img_size:
                raise UserError(
                    f"{source} was exported for {segmenter.img_size}x{segmenter.img_size} inputs, "
                    f"not {img_size}x{img_size}"
                )
            return segmenter
        except BaseException:
            for runner in runners.values():
                runner.deactivate()
            raise

    def _check_input_size(self) -> None:
        for runner in self.runners.values():
            for spec in runner.inputs.values():
                if spec.name in ("query_img", "support_imgs", "support_masks"):
                    for dim in spec.shape[-2:]:
                        if dim is not None and dim != self.img_size:
                            raise UserError(
                                f"{runner.path}: input '{spec.name}' is {spec.shape[-2:]} but its metadata "
                                f"says img_size {self.img_size}"
                            )

    # ---- properties ------------------------------------------------------------------
    @property
    def is_split(self) -> bool:
        return EPISODE not in self.runners

    @property
    def img_size(self) -> int:
        return self.info.img_size

    @property
    def shots(self) -> Optional[int]:
        """The fixed K of the model, or None when any K works."""
        return self.info.shots

    @property
    def backend(self) -> str:
        return next(iter(self.runners.values())).backend

    @property
    def metadata(self) -> dict:
        return dict(self.runners[QUERY if self.is_split else EPISODE].metadata)

    @property
    def precision(self) -> str:
        """The graphs' recorded precision: "int8", or "support fp16 + query int8" when they differ."""
        precisions = {kind: r.metadata.get(KEY_PRECISION, DEFAULT_PRECISION) for kind, r in self.runners.items()}
        if len(set(precisions.values())) == 1:
            return next(iter(precisions.values()))
        return " + ".join(f"{kind.split('_')[0]} {p}" for kind, p in precisions.items())

    @property
    def has_support(self) -> bool:
        return self._support is not None

    # ---- support set -----------------------------------------------------------------
    def check_support(
        self,
        supports: Sequence[ImageLike],
        masks: Sequence[MaskLike],
        allow_empty_masks: bool = False,
        names: Optional[Sequence[tuple[str, str]]] = None,
    ) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
        """A support set's rules without encoding it: the count (and the graph's K), each
        image and mask decoded and checked. -> (images (h, w, 3) uint8, masks (h, w) uint8
        {0, 1}, mask names)."""
        supports = _as_list(supports, "supports")
        masks = _as_list(masks, "masks")
        if not supports:
            raise UserError("no support image given: an episode needs at least one support image and its mask")
        if len(supports) != len(masks):
            raise UserError(f"{len(supports)} support image(s) but {len(masks)} mask(s): give one mask per support image")
        if self.shots is not None and len(supports) != self.shots:
            raise UserError(
                f"the model was exported for {self.shots}-shot episodes but {len(supports)} "
                f"support image(s) were given"
            )
        images, binary, mask_names = [], [], []
        for i, (support, mask) in enumerate(zip(supports, masks), start=1):
            image_name, mask_name = names[i - 1] if names else (describe(support, f"support image {i}"), describe(mask, f"support mask {i}"))
            image = as_image(support, image_name)
            mask_array = as_mask(mask, mask_name)
            check_support_pair(image, mask_array, image_name, mask_name, allow_empty_masks)
            images.append(image)
            binary.append(mask_array)
            mask_names.append(mask_name)
        return images, binary, mask_names

    def prepare_support(
        self,
        supports: Sequence[ImageLike],
        masks: Sequence[MaskLike],
        allow_empty_masks: bool = False,
        names: Optional[Sequence[tuple[str, str]]] = None,
    ) -> SupportSet:
        """Validate and preprocess a support set; encode it when the graphs are split.

        A mask that is empty, or whose foreground does not survive the resize to the
        network size, is an error unless ``allow_empty_masks`` (the official evaluation
        keeps such a shot: its features are all zero). ``names``: (image, mask) names
        per shot for error messages, when the inputs are arrays decoded from files.
        """
        images, binary, mask_names = self.check_support(supports, masks, allow_empty_masks, names)
        size = self.img_size
        support_set = SupportSet(*preprocess_support(images, binary, size))  # (1,K,3,S,S), (1,K,S,S)
        if not allow_empty_masks:
            for resized, mask_name in zip(support_set.masks[0], mask_names):  # each resized once, above
                if not resized.any():
                    raise UserError(
                        f"mask {mask_name}: its foreground is too small to survive resizing to {size}x{size}"
                    )
        if self.is_split:
            out = self.runners[SUPPORT_ENCODER].infer(
                {"support_imgs": support_set.images, "support_masks": support_set.masks}
            )
            support_set.features = {name: out[name] for name in SUPPORT_FEATURES}
        return support_set

    def set_support(
        self,
        supports: Sequence[ImageLike],
        masks: Sequence[MaskLike],
        names: Optional[Sequence[tuple[str, str]]] = None,
    ) -> None:
        """Cache a support set: later ``segment(query)`` calls reuse it."""
        self._support = self.prepare_support(supports, masks, names=names)

    def clear_support(self) -> None:
        self._support = None

    # ---- inference -------------------------------------------------------------------
    def prepare_query(self, query: ImageLike) -> tuple[np.ndarray, tuple[int, int]]:
        """A query image -> ((1, 3, S, S) float32 network input, its original (h, w))."""
        image = as_image(query, describe(query, "query image"))
        return preprocess_image(image, self.img_size)[None], image.shape[:2]

    def prepare_queries(self, queries: Sequence[ImageLike]) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """B query images -> ((B, 3, S, S) float32, their original (h, w) each)."""
        prepared = [self.prepare_query(q) for q in _as_list(queries, "queries")]
        if not prepared:
            raise UserError("no query image given")
        return np.concatenate([p[0] for p in prepared]), [p[1] for p in prepared]

    def network_logits(self, query_img: np.ndarray, support: SupportSet) -> np.ndarray:
        """Prepared (B, 3, S, S) queries + a prepared support set -> (B, K, 2, S, S) logits.

        Only the backend's graph(s): no image decoding, resizing or vote (benchmarks,
        evaluation). The support set is shared by the B queries; a graph exported with a
        fixed batch of 1 is run once per query.
        """
        batch = int(query_img.shape[0])
        if self.info.batch is not None and batch != self.info.batch:
            return np.concatenate([self.network_logits(query_img[i : i + 1], support) for i in range(batch)])
        if self.is_split:
            feed = {"query_img": query_img, **{n: _repeat(f, batch) for n, f in support.features.items()}}
            out = self.runners[QUERY].infer(feed)
        else:
            feed = {
                "query_img": query_img,
                "support_imgs": _repeat(support.images, batch),
                "support_masks": _repeat(support.masks, batch),
            }
            out = self.runners[EPISODE].infer(feed)
        logits = out["logits"]
        expected = (batch, support.shots, 2, self.img_size, self.img_size)
        if logits.shape != expected:
            raise UserError(f"the model returned logits of shape {logits.shape}, expected {expected}")
        return logits

    def _support_for(self, supports, masks) -> SupportSet:
        if supports is None and masks is None:
            if self._support is None:
                raise UserError("no support set: pass supports and masks, or call set_support() first")
            return self._support
        return self.prepare_support(supports, masks)

    def segment_logits(
        self,
        query: ImageLike,
        supports: Optional[Sequence[ImageLike]] = None,
        masks: Optional[Sequence[MaskLike]] = None,
    ) -> np.ndarray:
        """Per-shot logits (K, 2, h, w) float32 at the query's original size (h, w).

        Uses ``supports``/``masks`` when given (without touching the cached set),
        otherwise the set cached by ``set_support``.
        """
        support = self._support_for(supports, masks)
        query_img, original_size = self.prepare_query(query)  # (1, 3, S, S), (h, w)
        return resize_logits(self.network_logits(query_img, support)[0], original_size)

    def segment(
        self,
        query: ImageLike,
        supports: Optional[Sequence[ImageLike]] = None,
        masks: Optional[Sequence[MaskLike]] = None,
    ) -> np.ndarray:
        """The predicted mask (h, w) uint8 in {0, 1} at the query's original size."""
        return self.segment_batch([query], supports, masks)[0]

    def segment_batch(
        self,
        queries: Sequence[ImageLike],
        supports: Optional[Sequence[ImageLike]] = None,
        masks: Optional[Sequence[MaskLike]] = None,
    ) -> list[np.ndarray]:
        """Masks of B queries against one support set, the B queries in one graph call."""
        support = self._support_for(supports, masks)
        query_img, sizes = self.prepare_queries(queries)  # (B, 3, S, S)
        logits = self.network_logits(query_img, support)  # (B, K, 2, S, S)
        return [postprocess(shot_logits, size) for shot_logits, size in zip(logits, sizes)]

    def stream(self, frames, prefetch: int = 1):
        """Masks of ``frames`` (any iterable of images) against the cached support set, in
        order, pre-processing up to ``prefetch`` frames ahead in a worker thread
        (:mod:`frame_stream`)."""
        from .frame_stream import stream_masks

        return stream_masks(self, frames, prefetch)

    # ---- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        for runner in self.runners.values():
            runner.deactivate()
        self._support = None

    def __enter__(self) -> "Segmenter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        graphs = "+".join(self.runners)
        calibration = calibration_provenance({kind: r.metadata for kind, r in self.runners.items()})
        return (f"Segmenter({self.backend}, {graphs}, img_size={self.img_size}, shots={self.shots or 'dynamic'}, "
                f"precision={self.precision}" + (f", calibration={calibration!r}" if calibration else "") + ")")


def calibration_provenance(graphs: Mapping[str, Mapping[str, str]]) -> str:
    """Where the INT8 graphs among ``graphs`` (graph kind -> metadata) got their activation
    ranges, as ``convert`` recorded it: "synthetic trn (seed 0), 32 episodes, max"; one
    such text per graph ("support_encoder: ...; query: ...") when the graphs disagree;
    "not recorded" for an INT8 graph without the keys; "" when no graph is INT8.
    ``run`` (through ``repr``), ``check`` and ``bench`` all print this text."""
    from .graph_contract import (
        DEFAULT_PRECISION,
        KEY_CALIBRATION_EPISODES,
        KEY_CALIBRATION_METHOD,
        KEY_CALIBRATION_SOURCE,
        KEY_PRECISION,
    )

    found = {}
    for kind, meta in graphs.items():
        if meta.get(KEY_PRECISION, DEFAULT_PRECISION) != "int8":
            continue
        if KEY_CALIBRATION_SOURCE not in meta:
            found[kind] = "not recorded"
        else:
            found[kind] = (f"{meta[KEY_CALIBRATION_SOURCE]}, {meta.get(KEY_CALIBRATION_EPISODES, '?')} episodes, "
                           f"{meta.get(KEY_CALIBRATION_METHOD, '?')}")
    if len(set(found.values())) <= 1:
        return next(iter(found.values()), "")
    return "; ".join(f"{kind}: {text}" for kind, text in found.items())
