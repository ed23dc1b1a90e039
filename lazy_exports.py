"""Package attributes that import their module on first use.

Subpackages whose modules need torch or onnx (``hsnet``, ``export``, ``benchmarks``)
stay cheap to import, so the torch-free parts (``hsnet.data``, the runtime, ``--help``)
never load them by accident::

    __getattr__ = lazy_getattr(__name__, {"HSNet": "model"})
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` serving ``name`` from ``package.exports[name]``."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
