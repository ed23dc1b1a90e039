"""Does ``Segmenter.stream`` overlap pre-processing with inference? Measured, side by side.

    python -m hsnet_deploy.benchmarks.stream_overlap hsnet.query.onnx [--frames 20] [--rounds 3]
        [--prefetch 0,1,2] [--threads N]

Frames are JPEG files (640x480, written to a temporary folder), so each frame's cost
includes decoding, as from a video source. Each round runs every prefetch setting once
over all frames, in a rotating order; the report is the median per-frame wall time of
each setting and its ratio to ``prefetch=0`` (everything in the caller's thread).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    from hsnet_deploy.runtime import Segmenter
    from hsnet_deploy.runtime.backends import RuntimeOptions
    from PIL import Image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prefetch", default="0,1,2")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    settings = [int(p) for p in args.prefetch.split(",")]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder, Segmenter.load(args.model, options=RuntimeOptions(device="cpu", threads=args.threads)) as seg:
        paths = []
        for i in range(args.frames):
            image = np.clip(np.linspace(0, 255, 640)[None, :, None] + rng.normal(0, 40, (480, 640, 3)), 0, 255).astype(np.uint8)
            paths.append(Path(folder) / f"f{i:03d}.jpg")
            Image.fromarray(image).save(paths[-1], quality=90)
        support = np.zeros((480, 640), np.uint8)
        support[100:380, 150:500] = 1
        seg.set_support([str(paths[0])], [support])
        list(seg.stream(paths[:2], prefetch=0))  # warm-up
        per_frame: dict[int, list[float]] = {p: [] for p in settings}
        for r in range(args.rounds):
            for p in settings[r % len(settings):] + settings[: r % len(settings)]:
                start = time.perf_counter()
                count = sum(1 for _ in seg.stream(paths, prefetch=p))
                per_frame[p].append((time.perf_counter() - start) / count * 1e3)
        print(f"{seg!r}, {args.frames} JPEG frames 640x480 per round, {args.rounds} rounds")
        base = statistics.median(per_frame[settings[0]])
        for p in settings:
            ms = statistics.median(per_frame[p])
            print(f"prefetch={p}: {ms:8.1f} ms/frame  ({base / ms:.2f}x of prefetch={settings[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
