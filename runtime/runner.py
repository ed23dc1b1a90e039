"""The one interface every backend (ONNX Runtime, TensorRT, PyTorch) implements.

A runner wraps one model file: named inputs and outputs with shapes and dtypes,
``activate()`` / ``deactivate()`` (or ``with runner:``) to acquire and release the
session / engine / device buffers, and ``infer(feed) -> outputs`` on numpy arrays.
Loading and running are split as in Polygraphy: constructing a runner is cheap and never
touches the file; ``activate`` does the heavy work and fills ``metadata``, ``inputs``
and ``outputs``.

Shapes use ``None`` for dynamic dimensions (B, K, or a backend's symbolic dims).
"""

from __future__ import annotations

import abc
import contextlib
from dataclasses import dataclass
from typing import Iterator, Mapping, Optional

import numpy as np

from ..errors import UserError


@dataclass(frozen=True)
class TensorSpec:
    """A named model input or output."""

    name: str
    shape: tuple[Optional[int], ...]  # None for a dynamic dimension
    dtype: np.dtype

    def check(self, array: np.ndarray, source: str) -> None:
        """UserError unless ``array`` has this dtype, rank and every fixed dimension."""
        if array.dtype != self.dtype:
            raise UserError(f"{source}: input '{self.name}' must be {self.dtype}, got {array.dtype}")
        if array.ndim != len(self.shape) or any(
            want is not None and want != got for want, got in zip(self.shape, array.shape)
        ):
            shown = tuple("?" if d is None else d for d in self.shape)
            raise UserError(
                f"{source}: input '{self.name}' must have shape {shown}, got {tuple(array.shape)}"
            )


class Runner(abc.ABC):
    """Base class: lifecycle and input checking; subclasses do the backend work."""

    backend: str = "abstract"  # short backend name: "onnxruntime", "tensorrt", "torch"

    def __init__(self, path: str) -> None:
        self.path = str(path)
        self.metadata: dict[str, str] = {}
        self.inputs: dict[str, TensorSpec] = {}
        self.outputs: dict[str, TensorSpec] = {}
        self._active = False

    # ---- lifecycle -------------------------------------------------------------------
    @property
    def is_active(self) -> bool:
        return self._active

    def activate(self) -> "Runner":
        """Load the model (idempotent); fills metadata, inputs and outputs."""
        if not self._active:
            self._activate()
            self._active = True
        return self

    def deactivate(self) -> None:
        """Release the session / engine / buffers (idempotent)."""
        if self._active:
            self._active = False
            self._deactivate()

    def __enter__(self) -> "Runner":
        return self.activate()

    def __exit__(self, *exc: object) -> None:
        self.deactivate()

    # ---- inference -------------------------------------------------------------------
    def infer(self, feed: Mapping[str, np.ndarray], copy_outputs: bool = True) -> dict[str, np.ndarray]:
        """Run once on ``feed`` (every input by name) -> every output by name.

        With ``copy_outputs=False`` a backend may return views of its own preallocated
        output buffers, valid only until the next ``infer`` call (for benchmarks).
        """
        if not self._active:
            raise RuntimeError(f"{type(self).__name__} for {self.path} is not active; call activate() first")
        missing = set(self.inputs) - set(feed)
        extra = set(feed) - set(self.inputs)
        if missing or extra:
            raise UserError(
                f"{self.path}: feed must have exactly the inputs {sorted(self.inputs)}; "
                f"missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        arrays = {}
        for name, spec in self.inputs.items():
            array = np.ascontiguousarray(feed[name])
            spec.check(array, self.path)
            arrays[name] = array
        return self._infer(arrays, copy_outputs)

    @contextlib.contextmanager
    def running_through(self, handle) -> Iterator[None]:
        """Run through ``handle`` (a second session or infer request from this runner's loader,
        e.g. a profiling one) inside the block; the runner's own is back afterwards, also on an
        error. ``_handle`` names the attribute that holds it."""
        original = getattr(self, self._handle)
        setattr(self, self._handle, handle)
        try:
            yield
        finally:
            setattr(self, self._handle, original)

    # ---- backend hooks ---------------------------------------------------------------
    _handle = ""  # the attribute holding what runs the graph (a session, an infer request)

    @abc.abstractmethod
    def _activate(self) -> None:
        """Load the model and fill ``metadata``, ``inputs``, ``outputs``."""

    @abc.abstractmethod
    def _deactivate(self) -> None:
        """Free everything ``_activate`` acquired."""

    @abc.abstractmethod
    def _infer(self, feed: dict[str, np.ndarray], copy_outputs: bool) -> dict[str, np.ndarray]:
        """Run on checked, C-contiguous inputs; return every output by name."""

    def __repr__(self) -> str:
        state = "active" if self._active else "inactive"
        return f"{type(self).__name__}({self.path!r}, {state})"
