"""Shared test helpers: fake graphs, the TensorRT stand-in, small files and models.

Tests import them as ``from helpers.fake_graphs import ...`` (``tests/conftest.py`` puts
``tests/`` and ``tools/research`` on the path). ``REPO`` is the repository root.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
