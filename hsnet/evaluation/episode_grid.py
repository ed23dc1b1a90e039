"""One picture per episode: supports with their masks, the query with ground truth and
with the prediction, side by side (PIL only).

Layout (one row of tiles, each ``tile`` x ``tile`` with a caption band under it):
``support 1 .. support K`` (mask in blue) | ``query: ground truth`` (green; ignore pixels
grey) | ``query: prediction`` (red; caption gives the episode's foreground IoU). Images
keep their aspect ratio inside a tile. Overlay colour c at alpha 0.35 on the mask, the
mask's outline (mask pixels with a 4-neighbour outside it) in full colour.
"""

from __future__ import annotations

import os
from typing import List, Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..data.episode import IGNORE_LABEL, Episode
from .metrics import foreground_iou

SUPPORT_RGB = (40, 120, 255)
TRUTH_RGB = (40, 220, 60)
PRED_RGB = (255, 50, 40)
IGNORE_RGB = (200, 200, 200)
_CAPTION_H = 16
_ALPHA = 0.35


def overlay(image: np.ndarray, mask: np.ndarray, rgb, ignore: Optional[np.ndarray] = None
            ) -> np.ndarray:
    """(H, W, 3) uint8 image with the boolean ``mask`` tinted ``rgb`` and outlined."""
    out = image.astype(np.float32)               # (H, W, 3)
    m = mask.astype(bool)                        # (H, W)
    colour = np.asarray(rgb, dtype=np.float32)
    out[m] = (1 - _ALPHA) * out[m] + _ALPHA * colour
    inner = m.copy()
    inner[1:, :] &= m[:-1, :]
    inner[:-1, :] &= m[1:, :]
    inner[:, 1:] &= m[:, :-1]
    inner[:, :-1] &= m[:, 1:]
    out[m & ~inner] = colour
    if ignore is not None:
        out[ignore.astype(bool)] = IGNORE_RGB
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _tile(image: np.ndarray, caption: str, tile: int, font) -> Image.Image:
    h, w = image.shape[:2]
    scale = tile / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    pic = Image.fromarray(image).resize(size, Image.BILINEAR)
    canvas = Image.new("RGB", (tile, tile + _CAPTION_H), (24, 24, 24))
    canvas.paste(pic, ((tile - size[0]) // 2, (tile - size[1]) // 2))
    ImageDraw.Draw(canvas).text((3, tile + 2), caption, fill=(235, 235, 235), font=font)
    return canvas


def render_episode_grid(episode: Episode, pred: Optional[np.ndarray] = None,
                        tile: int = 192, title: Optional[str] = None,
                        prediction_first: bool = False) -> Image.Image:
    """The episode picture as a PIL RGB image.

    ``pred``: the (H, W) {0, 1} prediction at the query's original size, or None (then
    the last tile is left out). ``title``: optional line above the row.
    ``prediction_first``: the prediction tile before the ground truth's (the demo's order).
    """
    font = ImageFont.load_default()
    tiles: List[Image.Image] = []
    for k, (img, mask) in enumerate(zip(episode.support_images, episode.support_masks)):
        tiles.append(_tile(overlay(img, mask == 1, SUPPORT_RGB), f"support {k + 1}", tile, font))
    gt = episode.query_mask
    query_tiles = [_tile(overlay(episode.query_image, gt == 1, TRUTH_RGB, gt == IGNORE_LABEL),
                         "query: ground truth", tile, font)]
    if pred is not None:
        pred = np.asarray(pred)
        iou = foreground_iou(pred, gt)
        predicted = _tile(overlay(episode.query_image, pred == 1, PRED_RGB), f"prediction IoU {100 * iou:.1f}", tile, font)
        query_tiles.insert(0 if prediction_first else 1, predicted)
    tiles.extend(query_tiles)
    head = _CAPTION_H if title else 0
    grid = Image.new("RGB", (len(tiles) * (tile + 4) + 4, tile + _CAPTION_H + 8 + head),
                     (0, 0, 0))
    if title:
        ImageDraw.Draw(grid).text((4, 3), title, fill=(255, 255, 255), font=font)
    for i, t in enumerate(tiles):
        grid.paste(t, (4 + i * (tile + 4), 4 + head))
    return grid


def save_episode_grid(path: str | os.PathLike, episode: Episode,
                      pred: Optional[np.ndarray] = None, tile: int = 192,
                      title: Optional[str] = None) -> None:
    """Render and write the picture as PNG, atomically."""
    from ...atomic_file import atomic_path

    image = render_episode_grid(episode, pred, tile, title)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
