"""``Client``: segment through a running ``hsnet-deploy serve`` (HTTP or gRPC).

    with Client("http://127.0.0.1:8000") as client:     # or "grpc://127.0.0.1:8001", or several
        client.set_support([support], [mask])          # registered once on the server
        for frame in frames:
            mask = client.segment(frame)                 # (h, w) uint8 {0, 1}, the query's size

It behaves like a ``Segmenter`` with a cached support set (``run --server`` uses it in
place of one). Given several URLs (replicas of one model), it sends each request to the
next one in turn, as a round-robin load balancer would. When the server answers "unknown support_id" (it restarted, evicted the
set, or is another replica behind a load balancer) the client registers its support set
again and repeats the query, once; a query refused only because it shared a dynamic
batch with a bad request is sent again. Every other refusal is a ``UserError`` with the
server's one-line reason. Needs ``tritonclient`` (``pip install 'hsnet-deploy[triton]'``).
"""

from __future__ import annotations

from typing import Optional, Sequence
from urllib.parse import urlparse

import numpy as np

from ..errors import UserError
from ..runtime.images import ImageLike, MaskLike, as_image, as_mask, describe
from . import protocol as p

RETRIES = 3  # a batch-mate refusal is transient; three in a row is not


def parse_url(url: str) -> tuple[str, str]:
    """'http://host:port', 'grpc://host:port' or 'host:port' (HTTP) -> (protocol, 'host:port')."""
    parsed = urlparse(url if "://" in url else f"http://{url}")
    if parsed.scheme not in ("http", "grpc") or not parsed.hostname or parsed.path not in ("", "/"):
        raise UserError(f"--server must be http://HOST:PORT or grpc://HOST:PORT, got {url!r}")
    try:
        port = parsed.port or (8000 if parsed.scheme == "http" else 8001)
    except ValueError:
        raise UserError(f"--server {url!r} has an invalid port") from None
    host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
    return parsed.scheme, f"{host}:{port}"


def parse_urls(url: str | Sequence[str]) -> list[tuple[str, str]]:
    """One URL, several comma-separated, or a list -> [(protocol, 'host:port')], all of one protocol."""
    urls = [u.strip() for u in url.split(",")] if isinstance(url, str) else list(url)
    parsed = [parse_url(u) for u in urls]
    if not parsed or len({scheme for scheme, _ in parsed}) != 1:
        raise UserError(f"give one or more server URLs of one protocol, got {url!r}")
    return parsed


def _module(protocol: str):
    try:
        if protocol == "grpc":
            import tritonclient.grpc as module
        else:
            import tritonclient.http as module
    except ImportError as err:
        raise UserError(f"talking to a server needs tritonclient ({err.name} is missing): "
                        "pip install 'hsnet-deploy[triton]'") from None
    return module


class Client:
    def __init__(self, url: str | Sequence[str], timeout_s: float = 120.0) -> None:
        parsed = parse_urls(url)
        self.url = url if isinstance(url, str) else ",".join(url)
        self.protocol = parsed[0][0]
        self._tc = _module(self.protocol)
        from tritonclient.utils import InferenceServerException

        self._error_type = InferenceServerException
        kwargs = {"network_timeout": timeout_s, "connection_timeout": timeout_s} if self.protocol == "http" else {}
        self._clients = [self._tc.InferenceServerClient(address, **kwargs) for _, address in parsed]
        self._turn = 0
        self._shots: Optional[tuple[list, list]] = None
        self.support_id: Optional[str] = None
        self.registrations = 0  # how many times a support set was sent (re-registrations included)

    # ---- support set -------------------------------------------------------------------------
    def register(self, supports: Sequence[ImageLike], masks: Sequence[MaskLike], replica: int = 0) -> str:
        """Send a support set to one replica; returns its id (the server encodes it once and
        caches it). Another replica of the same model learns it when it first answers
        "unknown support_id" to a query, and gives the same id."""
        return self._send(*_decoded(supports, masks), replica)

    def _send(self, images: list, binary: list, replica: int) -> str:
        inputs = []
        for i, (image, mask) in enumerate(zip(images, binary), 1):
            inputs += [self._input(p.image_input(i), image), self._input(p.mask_input(i), mask)]
        result = self._infer(p.SUPPORT_MODEL, inputs, [p.SUPPORT_ID], replica)
        self.registrations += 1
        return _text(result.as_numpy(p.SUPPORT_ID)[0])

    def set_support(self, supports, masks, names=None) -> None:
        """Register a support set and use it for later ``segment`` calls (``names`` is ignored:
        the server names shots image_N / mask_N)."""
        self._shots = _decoded(supports, masks)  # decoded once: a re-registration sends the same arrays
        self.support_id = self._send(*self._shots, 0)

    # ---- queries -------------------------------------------------------------------------------
    def segment(self, query: ImageLike) -> np.ndarray:
        """(h, w) uint8 {0, 1} mask at the query's size."""
        return self._segment(query, logits=False)[0]

    def segment_logits(self, query: ImageLike) -> np.ndarray:
        """(K, 2, h, w) float32 logits at the query's size."""
        return self._segment(query, logits=True)[1]

    def stream(self, frames, prefetch: int = 1):
        """Masks of ``frames`` in order (one request per frame)."""
        for frame in frames:
            yield self.segment(frame)

    def _segment(self, query: ImageLike, logits: bool):
        if self.support_id is None or self._shots is None:
            raise UserError("no support set: call set_support() first")
        image = as_image(query, describe(query, "query image"))
        outputs = [p.MASK, p.LOGITS] if logits else [p.MASK]
        replica = self._turn % len(self._clients)  # this query's replica, retries included
        self._turn += 1
        for attempt in range(RETRIES + 1):
            inputs = [self._input(p.QUERY, image[None]),
                      self._input(p.SUPPORT_ID, np.array([[self.support_id.encode()]], dtype=object))]
            try:
                result = self._infer(p.SEGMENT_MODEL, inputs, outputs, replica, {p.LOGITS: True} if logits else None)
                return result.as_numpy(p.MASK)[0], (result.as_numpy(p.LOGITS)[0] if logits else None)
            except UserError as err:
                if attempt == RETRIES:
                    raise
                if p.UNKNOWN_SUPPORT in str(err) and p.BATCH_MATE not in str(err):
                    support_id = self._send(*self._shots, replica)  # restarted, or another replica
                    if support_id != self.support_id:
                        raise UserError(f"the servers at {self.url} serve different models (another support id "
                                        "for the same support set)") from None
                elif p.BATCH_MATE not in str(err):
                    raise
        raise AssertionError("unreachable")

    # ---- transport -----------------------------------------------------------------------------
    def _input(self, name: str, array: np.ndarray):
        dtype = "BYTES" if array.dtype == object else "UINT8"
        tensor = self._tc.InferInput(name, list(array.shape), dtype)
        tensor.set_data_from_numpy(array)
        return tensor

    def _infer(self, model: str, inputs: list, outputs: list[str], replica: int, parameters: Optional[dict] = None):
        requested = [self._tc.InferRequestedOutput(name) for name in outputs]
        client = self._clients[replica]
        try:
            return client.infer(model, inputs, outputs=requested, parameters=parameters)
        except self._error_type as err:
            text = str(err)
            reason = p.refusal_of(text)
            if reason is not None:
                raise UserError(reason) from None
            raise UserError(f"the server at {self.url} failed: {text.splitlines()[0] if text else type(err).__name__}") from None
        except Exception as err:  # noqa: BLE001 - the transports' own connection errors (gevent, grpc) vary
            raise UserError(f"cannot reach the server at {self.url}: {type(err).__name__}: {err}") from None

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url}, support_id={self.support_id[:12] if self.support_id else None})"


def _decoded(supports: Sequence[ImageLike], masks: Sequence[MaskLike]) -> tuple[list, list]:
    """Support images (h, w, 3) uint8 and masks (h, w) {0, 1}, each file read once."""
    supports, masks = list(supports), list(masks)
    if not supports:
        raise UserError("no support image given: a support set needs at least one image and its mask")
    if len(supports) != len(masks):
        raise UserError(f"{len(supports)} support image(s) but {len(masks)} mask(s): give one mask per support image")
    images = [as_image(s, describe(s, f"support image {i}")) for i, s in enumerate(supports, 1)]
    return images, [as_mask(m, describe(m, f"support mask {i}")) for i, m in enumerate(masks, 1)]


def _text(value) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)
