"""The sensitivity report as a PNG: one bar per node group, its ΔmIoU when only it is INT8.

Bars to the right are mIoU lost; the text beside each bar gives the logit error. Groups
``--int8-auto`` kept in float32 are drawn in orange. Drawn with PIL alone, written
atomically.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from ..atomic_file import atomic_path
from ..chart_font import chart_font

WIDTH, ROW, LABEL, MARGIN, NOTE = 1000, 24, 170, 20, 260
BLUE, ORANGE, GREY = (31, 119, 180), (255, 127, 14), (120, 120, 120)


def write_sensitivity_chart(report: dict, path) -> None:
    groups = report.get("groups", {})
    chosen = set(report.get("chosen", []))
    font, small = chart_font(14), chart_font(12)
    height = MARGIN * 3 + ROW * (len(groups) + 2)
    image = Image.new("RGB", (WIDTH, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    title = (f"INT8 sensitivity: mIoU lost when only one group is INT8 "
             f"(FP32 {report.get('fp32_miou', float('nan')):.2f}, {report.get('episodes', '?')} episodes)")
    draw.text((MARGIN, MARGIN // 2), title, fill=(0, 0, 0), font=font)
    lost = max([g["delta_miou"] for g in groups.values()] + [0.0])
    gained = max([-g["delta_miou"] for g in groups.values()] + [0.0])
    x0, plot = MARGIN + LABEL, WIDTH - 2 * MARGIN - LABEL - NOTE
    scale = plot / max(lost + gained, 0.1)  # both signs fit: mIoU gained draws left of zero
    zero = x0 + gained * scale
    y = MARGIN * 2
    draw.line([(zero, y - 4), (zero, y + ROW * len(groups))], fill=GREY)
    for name, g in groups.items():
        draw.text((MARGIN, y + 4), name, fill=(0, 0, 0), font=small)
        end = zero + g["delta_miou"] * scale
        draw.rectangle([min(zero, end), y + 3, max(zero, end), y + ROW - 3], fill=ORANGE if name in chosen else BLUE)
        draw.text((x0 + plot + 8, y + 4), f"{g['delta_miou']:+.2f} mIoU, max err {100 * g['max_rel']:.2g}% of range",
                  fill=(0, 0, 0), font=small)
        y += ROW
    if report.get("trials"):
        last = report["trials"][-1]
        kept = ", ".join(report.get("chosen", [])) or "none"
        draw.text((MARGIN, y + ROW // 2), f"--int8-auto (gate {report.get('gate')}): float32 groups {kept}; "
                  f"INT8 {last['miou']:.2f} mIoU, {last['delta_miou']:+.2f} against FP32", fill=(0, 0, 0), font=small)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
