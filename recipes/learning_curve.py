"""Draw the reference model's learning curve from the training logs (PIL only).

    python recipes/learning_curve.py runs/reference docs/reference_learning_curve.png

Reads ``stage1/log.csv``, ``stage2/log.csv`` and ``stage3/log.csv`` (``hsnet-deploy
train``'s CSV log; the stages present) and plots the validation mIoU (1-shot, held-out
validation episodes of the training classes' generator), per validation side where the
log has several, and the training mIoU against the optimizer step, each stage continuing
the previous one's step count; a dashed line marks where the image sizes change.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

W, H, PAD = 900, 420, 56
COLOURS = {"val_miou": (200, 40, 40), "train_miou": (60, 110, 200),
           "val_miou@200": (230, 150, 30), "val_miou@400": (120, 40, 160)}
STAGES = (("stage1", "stage 1: 96x96"), ("stage2", "stage 2: 200x200"), ("stage3", "stage 3: sides 160-480"))


def read_log(path: Path) -> list[dict]:
    with path.open() as fh:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]


def draw(run: Path, out: Path) -> None:
    stages = [(label, read_log(run / name / "log.csv")) for name, label in STAGES if (run / name / "log.csv").is_file()]
    if not stages:
        raise SystemExit(f"no stage*/log.csv under {run}")
    points, starts, offset = [], [], 0.0
    for label, rows in stages:
        starts.append((offset, label))
        points += [(offset + r["step"], r) for r in rows]
        offset += rows[-1]["step"]
    max_step = points[-1][0]
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()

    def xy(step: float, miou: float) -> tuple[float, float]:
        return PAD + (W - 2 * PAD) * step / max_step, H - PAD - (H - 2 * PAD) * miou / 100.0

    d.rectangle([PAD, PAD, W - PAD, H - PAD], outline="black")
    for miou in range(0, 101, 20):
        y = xy(0, miou)[1]
        d.line([PAD, y, W - PAD, y], fill=(225, 225, 225))
        d.text((PAD - 28, y - 6), f"{miou}", fill="black", font=font)
    for i in range(6):
        step = max_step * i / 5
        d.text((xy(step, 0)[0] - 14, H - PAD + 6), f"{step:.0f}", fill="black", font=font)
    for start, label in starts:
        x_switch = xy(start, 0)[0]
        if start > 0:
            for y in range(PAD, H - PAD, 8):
                d.line([x_switch, y, x_switch, y + 4], fill="grey")
        d.text((x_switch + 8, PAD + 6), label, fill="grey", font=font)
    for key, colour in COLOURS.items():
        line = [xy(step, row[key]) for step, row in points if key in row]
        d.line(line, fill=colour, width=2)
        for x, y in line:
            d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
    d.text((PAD, 8), "reference HSNet-ResNet50 (random frozen backbone): mIoU vs optimizer step", fill="black", font=font)
    d.text((PAD, 24), "red: validation mIoU (mean over sides)   orange / purple: validation at 200 / 400   blue: training mIoU",
           fill="black", font=font)
    d.text((W // 2 - 20, H - 22), "step", fill="black", font=font)
    img.save(out, format="PNG")


if __name__ == "__main__":
    draw(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"wrote {sys.argv[2]}")
