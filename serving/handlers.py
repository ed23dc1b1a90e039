"""The two Triton models as plain functions over requests: what the server computes,
testable without a server.

    register(requests)  hsnet_support: shots -> validate -> encode once -> cache -> support_id
    segment(requests)   hsnet_segment: a dynamic batch of queries, grouped by support_id;
                        each group is ONE query-graph call (Segmenter.network_logits over the
                        group's queries), then the runtime's postprocess per query

The numbers are the Segmenter's: the same prepare_support, prepare_queries,
network_logits and postprocess, so a served mask equals ``Segmenter.segment``'s.

Mixed support sets in one dynamic batch cost one graph call per distinct set. A refusal
fails the whole batch (PyTriton 0.7.0 answers a non-decoupled batch with one error), so a
batch-mate of a bad request is told so (``protocol.BATCH_MATE``) and the client sends it
again; Triton itself refuses wrong dtypes, ranks and channel counts before batching, so
only an unknown support id or an oversized query can meet a good request in a batch.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import UserError
from ..runtime.postprocess import postprocess
from ..runtime.resize import resize_logits
from ..runtime.segmenter import Segmenter, SupportSet
from . import protocol as p
from .limits import ServeLimits
from .support_cache import SupportCache


class Refused(Exception):
    """A request the server answers with an error naming the problem (it keeps serving)."""


def features_only(support: SupportSet) -> SupportSet:
    """What the query graph needs of a split export's support set: its features (the
    prepared images and masks are dropped; their shapes keep K)."""
    k = support.shots
    return SupportSet(np.zeros((1, k, 0, 0, 0), np.float32), np.zeros((1, k, 0, 0), np.float32), dict(support.features))


def _data(request: Any) -> Mapping[str, np.ndarray]:
    """A PyTriton Request's inputs (or a plain dict's)."""
    return getattr(request, "data", request)


def _text(value: Any, what: str) -> str:
    raw = value.item() if isinstance(value, np.ndarray) else value
    if isinstance(raw, bytes):
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise UserError(f"{what} is not ASCII text") from None
    return str(raw)


class Handlers:
    """One Triton instance: its own Segmenter (graph sessions), the shared cache and limits."""

    def __init__(self, segmenter: Segmenter, cache: SupportCache, limits: ServeLimits, model_key: str) -> None:
        if not segmenter.is_split:
            raise UserError("serve needs a split export (support encoder + query graph): export with --split")
        self.segmenter = segmenter
        self.cache = cache
        self.limits = limits
        self.model_key = model_key

    # ---- hsnet_support -------------------------------------------------------------------
    def register(self, requests: Sequence[Mapping[str, np.ndarray]]) -> list[dict]:
        responses = []
        for request in requests:  # not batched: one support set per request
            try:
                responses.append({p.SUPPORT_ID: np.array([self._register(_data(request)).encode()], dtype=object)})
            except UserError as err:
                raise Refused(p.refusal(str(err))) from None
        return responses

    def _register(self, request: Mapping[str, np.ndarray]) -> str:
        shots, masks = self._shots(request)
        names = [(p.image_input(i), p.mask_input(i)) for i in range(1, len(shots) + 1)]
        images, binary, _ = self.segmenter.check_support(shots, masks, names=names)  # every rule, before the cache
        support_id = p.support_id_of(self.model_key, images, binary)
        if support_id in self.cache:
            return support_id
        support = self.segmenter.prepare_support(images, binary, names=names)
        self.cache.put(support_id, features_only(support))
        return support_id

    def _shots(self, request: Mapping[str, np.ndarray]) -> tuple[list, list]:
        given = set(request.keys())
        allowed = {name for i in range(1, self.limits.max_shots + 1) for name in (p.image_input(i), p.mask_input(i))}
        if given - allowed:
            raise UserError(f"at most {self.limits.max_shots} shots per support set on this server (image_1..image_"
                            f"{self.limits.max_shots} with mask_1..); unexpected inputs {sorted(given - allowed)}")
        images, masks = [], []
        for i in range(1, self.limits.max_shots + 1):
            image, mask = request.get(p.image_input(i)), request.get(p.mask_input(i))
            if image is None and mask is None:
                break
            if image is None or mask is None:
                raise UserError(f"shot {i} has {'no image' if image is None else 'no mask'}: send image_{i} with mask_{i}")
            self.limits.check_image(np.asarray(image), p.image_input(i))
            self.limits.check_mask_shape(np.asarray(mask), p.mask_input(i))
            images.append(np.asarray(image))
            masks.append(np.asarray(mask))
        if len(images) * 2 != len(given):
            raise UserError(f"shots must be numbered from 1 without gaps (got {sorted(given)})")
        return images, masks

    # ---- hsnet_segment -------------------------------------------------------------------
    def segment(self, requests: Sequence[Any]) -> list[dict]:
        items, problems = [], []  # items: (request index, query (h, w, 3), SupportSet, support id)
        for r, request in enumerate(requests):
            try:
                items.extend((r, q, s, sid) for q, s, sid in self._queries(_data(request)))
            except UserError as err:
                problems.append((r, str(err)))
        if problems:
            r, message = problems[0]
            if len(requests) > 1:
                message += (f" (request {r + 1} of the {len(requests)} in this dynamic batch; each other request was "
                            f"refused with it as {p.BATCH_MATE}: send those again)")
            raise Refused(p.refusal(message))
        wanted = [p.wants_logits(req) for req in requests]
        masks: list[list] = [[] for _ in requests]
        logits: list[list] = [[] for _ in requests]
        for group in self._groups(items):
            queries = [q for _, q, _, _ in group]
            query_img, sizes = self.segmenter.prepare_queries(queries)  # (G, 3, S, S)
            out = self.segmenter.network_logits(query_img, group[0][2])  # (G, K, 2, S, S): one graph call
            for (r, _, _, _), shot_logits, size in zip(group, out, sizes):
                masks[r].append(postprocess(shot_logits, size))  # (h, w) uint8 {0, 1}
                if wanted[r]:
                    logits[r].append(resize_logits(shot_logits, size))  # (K, 2, h, w)
        responses = []
        for r in range(len(requests)):
            response = {p.MASK: np.stack(masks[r])}
            if logits[r]:
                response[p.LOGITS] = np.stack(logits[r]).astype(np.float32)
            responses.append(response)
        return responses

    def _queries(self, request: Mapping[str, np.ndarray]):
        queries, ids = np.asarray(request[p.QUERY]), np.asarray(request[p.SUPPORT_ID])
        if queries.ndim != 4 or ids.shape[:1] != queries.shape[:1]:
            raise UserError(f"query must be (B, h, w, 3) with support_id (B, 1), got {tuple(queries.shape)} "
                            f"and {tuple(ids.shape)}")
        found = []
        for query, raw_id in zip(queries, ids.reshape(len(ids), -1)):
            self.limits.check_image(query, "query")
            support_id = _text(raw_id[0], "support_id")
            support = self.cache.get(support_id)
            if support is None:
                raise UserError(f"{p.UNKNOWN_SUPPORT} {support_id[:16]!r}: register the support set again (this "
                                "server never saw it, restarted, or evicted it from its cache)")
            found.append((query, support, support_id))
        return found

    @staticmethod
    def _groups(items: list) -> list[list]:
        """Items sharing a support id, in order of first appearance."""
        groups: dict[str, list] = {}
        for item in items:
            groups.setdefault(item[3], []).append(item)
        return list(groups.values())
