"""The stage breakdown as a PNG: one horizontal stacked bar per configuration and K.

Each bar is the configuration's per-stage median times laid end to end (pre-processing,
query backbone, ..., post-processing; "network" for a backend timed as a whole), so
where the time goes and how the configurations compare is visible at a glance. Drawn
with PIL alone (no plotting library needed) and written atomically.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

from ..atomic_file import atomic_path
from ..chart_font import chart_font
from .staged_forward import STAGES

COLOURS = {
    "pre-processing": (158, 158, 158),
    "query backbone": (31, 119, 180),
    "support backbone + masking": (174, 199, 232),
    "correlation": (255, 127, 14),
    "squeezing blocks": (44, 160, 44),
    "mixing blocks": (152, 223, 138),
    "decoder": (214, 39, 40),
    "unattributed": (199, 199, 199),
    "network": (148, 103, 189),
    "post-processing": (97, 97, 97),
}
WIDTH = 1200
BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 380
MARGIN = 20
LEGEND_ITEM = 230
TOTAL_LABEL = 90  # room right of the longest bar for its total


def _nice_step(span: float) -> float:
    """A round tick step (1, 2 or 5 x 10^n) giving about 3-6 ticks over ``span``."""
    raw = span / 6 if span > 0 else 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def draw_stage_chart(report: dict) -> Image.Image:
    results = report["results"]
    font = chart_font()
    title_font = chart_font(16)
    totals = [sum(r["stages_ms"].values()) for r in results] or [1.0]
    scale_max = max(max(totals), 1e-6)
    shown = [st for st in STAGES if any(st in r["stages_ms"] for r in results)]
    per_row = max(1, (WIDTH - 2 * MARGIN) // LEGEND_ITEM)
    legend_rows = max(1, -(-len(shown) // per_row))
    top = MARGIN + 30
    plot_w = WIDTH - LABEL_WIDTH - 2 * MARGIN - TOTAL_LABEL
    height = top + len(results) * (BAR_HEIGHT + GAP) + 40 + legend_rows * 22 + MARGIN
    img = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(img)
    st = report["settings"]
    draw.text((MARGIN, MARGIN), f"HSNet {st['backbone']} {st['img_size']}x{st['img_size']}, {st['device']}: median ms per stage (measured)", fill="black", font=title_font)

    x0 = MARGIN + LABEL_WIDTH
    step = _nice_step(scale_max)
    tick = 0.0
    bottom = top + len(results) * (BAR_HEIGHT + GAP)
    while tick <= scale_max * 1.0001:
        x = x0 + plot_w * tick / scale_max
        draw.line([(x, top - 4), (x, bottom)], fill=(225, 225, 225))
        draw.text((x - 10, bottom + 4), f"{tick:g}", fill="black", font=font)
        tick += step

    for i, r in enumerate(results):
        y = top + i * (BAR_HEIGHT + GAP)
        label = f"K={r['shots']} {r['label']}"
        draw.text((MARGIN, y + 4), label[:58], fill="black", font=font)
        x = float(x0)
        for stage in STAGES:
            ms = r["stages_ms"].get(stage)
            if not ms:
                continue
            w = plot_w * ms / scale_max
            draw.rectangle([x, y, x + max(w, 1), y + BAR_HEIGHT], fill=COLOURS[stage])
            x += w
        draw.text((x + 4, y + 4), f"{sum(r['stages_ms'].values()):.1f} ms", fill="black", font=font)

    ly = bottom + 26
    lx = MARGIN
    for stage in shown:
        if lx + LEGEND_ITEM > WIDTH - MARGIN + 1:
            lx, ly = MARGIN, ly + 22
        draw.rectangle([lx, ly, lx + 14, ly + 14], fill=COLOURS[stage])
        draw.text((lx + 20, ly), stage, fill="black", font=font)
        lx += LEGEND_ITEM
    return img


def write_stage_chart(report: dict, path: str | Path) -> None:
    image = draw_stage_chart(report)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
