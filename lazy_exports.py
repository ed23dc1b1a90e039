"""Package attributes that import their module on first use.

Subpackages whose modules need torch or onnx (``hsnet``, ``export``, ``benchmarks``)
stay cheap to import, so the torch-free parts (``hsnet.data``, the runtime, ``--help``)
never load them by accident::

    __getattr__, __all__ = lazy_exports(__name__, model="HSNet", checkpoint="load_hsnet save_official_checkpoint")

``lazy_exports`` takes, per module, the names it serves (space-separated).
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


def lazy_exports(package: str, **modules: str) -> tuple[Callable[[str], Any], list[str]]:
    """(``__getattr__``, ``__all__``) of ``package`` serving, for each ``module=names``, the
    space-separated ``names`` from ``package.module`` on first use."""
    exports = {name: module for module, names in modules.items() for name in names.split()}
    return lazy_getattr(package, exports), sorted(exports)
