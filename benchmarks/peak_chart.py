"""The share-of-peak table as a PNG: one row per configuration, one column per network stage.

Each cell is a bar of the stage's achieved GFLOP/s as a share of this run's measured
dense-GEMM peak for its backend (``peak_share``), with a line at 100 % and the figure
written beside it, so which stages sit far from the machine's limit is visible at a
glance. Drawn with PIL alone, written atomically; ``bench --plot OUT.png`` writes it as
``OUT.peak.png`` beside the stage breakdown.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from ..atomic_file import atomic_path
from .stage_chart import COLOURS, LABEL_WIDTH, MARGIN, chart_font
from .staged_forward import NETWORK_STAGES

WIDTH = 1400
ROW = 30
BAR = 16


def peak_chart_path(plot_path: str | Path) -> Path:
    """OUT.png -> OUT.peak.png."""
    path = Path(plot_path)
    return path.with_name(path.stem + ".peak" + path.suffix)


def draw_peak_chart(report: dict) -> Image.Image:
    rows = [r for r in report["results"] if r.get("achieved_per_stage")]
    stages = [st for st in NETWORK_STAGES if any(st in r["achieved_per_stage"] for r in rows)]
    font, title_font = chart_font(), chart_font(16)
    top = MARGIN + 56
    col = (WIDTH - LABEL_WIDTH - 2 * MARGIN) // max(1, len(stages))
    shares = [a["share_of_peak"] for r in rows for a in r["achieved_per_stage"].values() if a.get("share_of_peak")]
    scale = max([1.0] + shares)  # bar length per share; 100 % is marked in every column
    img = Image.new("RGB", (WIDTH, top + max(1, len(rows)) * ROW + MARGIN + 20), "white")
    draw = ImageDraw.Draw(img)
    st = report["settings"]
    peaks = ", ".join(f"{k} {v['gflops']:.0f}" for k, v in (report.get("gemm_peaks") or {}).items() if v.get("gflops"))
    draw.text((MARGIN, MARGIN), f"HSNet {st['backbone']} {st['img_size']}x{st['img_size']}, {st['device']}: achieved GFLOP/s per stage, share of this run's measured peak", fill="black", font=title_font)
    draw.text((MARGIN, MARGIN + 22), f"measured peaks, GFLOP/s: {peaks or 'none'}", fill="black", font=font)
    for j, stage in enumerate(stages):
        x = MARGIN + LABEL_WIDTH + j * col
        draw.text((x, top - 18), stage.split(" + ")[0], fill="black", font=font)
        full = x + (col - 60) / scale  # the 100 % line
        draw.line([(full, top - 2), (full, top + len(rows) * ROW)], fill=(160, 160, 160))
    for i, r in enumerate(rows):
        y = top + i * ROW
        draw.text((MARGIN, y + 2), f"K={r['shots']} {r['label']}"[:58], fill="black", font=font)
        for j, stage in enumerate(stages):
            a = r["achieved_per_stage"].get(stage)
            if not a or a.get("share_of_peak") is None:
                continue
            x = MARGIN + LABEL_WIDTH + j * col
            length = (col - 60) * a["share_of_peak"] / scale
            draw.rectangle([x, y, x + max(length, 1), y + BAR], fill=COLOURS[stage])
            draw.text((x + length + 4, y + 1), f"{100 * a['share_of_peak']:.0f}%", fill="black", font=font)
    return img


def write_peak_chart(report: dict, path: str | Path) -> None:
    image = draw_peak_chart(report)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
