"""The slowest TensorRT layers as a PNG: one bar per layer (median ms from IProfiler),
coloured by the precision the engine inspector reports for it, so a layer that stayed in
FP32 inside an FP16 / INT8 engine stands out. Drawn with PIL alone."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PIL import Image, ImageDraw

from ..chart_font import chart_font

PRECISION_COLOURS = {
    "fp32": (31, 119, 180), "fp16": (44, 160, 44), "int8": (214, 39, 40), "bf16": (148, 103, 189),
    "fp8": (255, 127, 14), "unknown": (160, 160, 160),
}
WIDTH, BAR, GAP, MARGIN, LABEL = 1200, 16, 4, 20, 520


def draw_layer_chart(report: dict, top: Optional[int] = 30) -> Image.Image:
    rows = []
    for r in report["results"]:
        for g in r["graphs"]:
            for layer in g["layers"]:
                if layer["ms"] is not None:
                    rows.append((layer["ms"], f"K={r['shots']} {Path(g['engine']).name}: {layer['name']}", layer["precision"]))
    rows.sort(key=lambda row: -row[0])
    rows = rows[:top] if top else rows
    font, title = chart_font(), chart_font(16)
    height = MARGIN * 2 + 60 + max(len(rows), 1) * (BAR + GAP)
    img = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((MARGIN, MARGIN), f"TensorRT: the {len(rows)} slowest layers, median ms per layer (IProfiler), colour = precision (inspector)",
              fill="black", font=title)
    longest = max((row[0] for row in rows), default=1.0) or 1.0
    x0, plot = MARGIN + LABEL, WIDTH - LABEL - 2 * MARGIN - 80
    y = MARGIN + 30
    for ms, label, precision in rows:
        draw.text((MARGIN, y + 2), label[-75:], fill="black", font=font)
        w = max(plot * ms / longest, 1)
        draw.rectangle([x0, y, x0 + w, y + BAR], fill=PRECISION_COLOURS.get(precision, PRECISION_COLOURS["unknown"]))
        draw.text((x0 + w + 4, y + 2), f"{ms:.3f}", fill="black", font=font)
        y += BAR + GAP
    x = MARGIN
    for precision, colour in PRECISION_COLOURS.items():
        draw.rectangle([x, y + 10, x + 14, y + 24], fill=colour)
        draw.text((x + 20, y + 10), precision, fill="black", font=font)
        x += 110
    return img
