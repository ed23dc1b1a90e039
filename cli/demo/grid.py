"""The demo's picture: one row per query, the evaluation's episode layout.

Each row is :func:`evaluation.episode_grid.render_episode_grid` of the query with the
stream's cached support set: support(s) with their mask (blue) | query with the deployed
(onnxruntime) prediction (red, caption: its IoU) | query with the ground truth (green),
under a title line. Written as one PNG, atomically.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from ...hsnet.data.held_out_stream import DemoStream


def render_demo_grid(stream: DemoStream, masks: Sequence[np.ndarray], rows: int, label: str, tile: int = 160):
    """The first ``rows`` queries as a PIL RGB image (rows stacked top to bottom)."""
    from PIL import Image

    from ...hsnet.evaluation.episode_grid import render_episode_grid

    pictures = []
    for i in range(min(rows, len(stream.queries))):
        title = f"query {i + 1}/{len(stream.queries)}  class {stream.class_name}  {label}"
        pictures.append(render_episode_grid(stream.as_episode(i), masks[i], tile=tile, title=title, prediction_first=True))
    sheet = Image.new("RGB", (max(p.width for p in pictures), sum(p.height for p in pictures)), (0, 0, 0))
    y = 0
    for picture in pictures:
        sheet.paste(picture, (0, y))
        y += picture.height
    return sheet


def write_demo_grid(path: str | os.PathLike, stream: DemoStream, masks: Sequence[np.ndarray],
                    rows: int, label: str) -> None:
    """Render and write the PNG atomically (an existing file is replaced only on success)."""
    from ...atomic_file import atomic_path

    sheet = render_demo_grid(stream, masks, rows, label)
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
