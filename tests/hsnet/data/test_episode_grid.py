"""The episode picture (supports with masks, query with truth and prediction)."""

import numpy as np
import pytest
from hsnet_deploy.errors import UserError
from hsnet_deploy.hsnet.data import Episode
from hsnet_deploy.hsnet.evaluation.episode_grid import (
    PRED_RGB,
    SUPPORT_RGB,
    overlay,
    render_episode_grid,
    save_episode_grid,
)
from PIL import Image


def grey_episode(shot=2):
    img = np.full((40, 60, 3), 128, dtype=np.uint8)
    mask = np.zeros((40, 60), dtype=np.uint8)
    mask[10:30, 20:40] = 1
    q_mask = mask.copy()
    q_mask[0, :] = 255
    return Episode(img, q_mask, [img.copy()] * shot, [mask.copy()] * shot, 3, "q", ["s"] * shot)


def test_overlay_tints_inside_and_outlines():
    img = np.full((6, 6, 3), 100, dtype=np.uint8)
    mask = np.zeros((6, 6), dtype=bool)
    mask[1:5, 1:5] = True
    out = overlay(img, mask, (255, 0, 0))
    assert (out[~mask] == 100).all()                  # outside untouched
    assert tuple(out[1, 1]) == (255, 0, 0)            # outline in full colour
    inner = out[2, 2].astype(int)
    assert inner[0] > 100 and inner[1] < 100 and inner[1] == inner[2]  # tinted towards red


def test_grid_layout_and_colours(tmp_path):
    ep = grey_episode(shot=2)
    tile = 64
    grid = render_episode_grid(ep, pred=ep.query_mask.clip(0, 1), tile=tile, title="t")
    assert grid.mode == "RGB"
    assert grid.size[0] == 4 * (tile + 4) + 4                 # 2 supports, truth, prediction
    without = render_episode_grid(ep, tile=tile)
    assert without.size[0] == 3 * (tile + 4) + 4
    pixels = np.asarray(grid).astype(int)
    head = 16
    centre_y = 4 + head + tile // 2
    support_px = pixels[centre_y, 4 + tile // 2]
    pred_px = pixels[centre_y, 4 + 3 * (tile + 4) + tile // 2]
    assert np.argmax(support_px - 128) == np.argmax(SUPPORT_RGB)
    assert np.argmax(pred_px - 128) == np.argmax(PRED_RGB)


def test_save_writes_png_atomically(tmp_path):
    ep = grey_episode(shot=1)
    target = tmp_path / "ep.png"
    save_episode_grid(target, ep, pred=np.zeros((40, 60), dtype=np.uint8))
    assert Image.open(target).format == "PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["ep.png"]
    with pytest.raises(UserError, match="output folder does not exist"):
        save_episode_grid(tmp_path / "missing" / "ep.png", ep)
    with pytest.raises(UserError, match="does not match"):
        render_episode_grid(ep, pred=np.zeros((5, 5), dtype=np.uint8))
