"""OpenCV or PyAV for video? What each can open, and its decode/encode cost, side by side.

    python -m hsnet_deploy.benchmarks.video_io [--frames 64] [--size 400] [--rounds 3]

Reports, for each library that is installed: whether it has a V4L2 camera input (the
deciding question for a camera toolkit), the H.264 and MPEG-4 encoders it offers, and
the median per-frame time to encode ``--frames`` synthetic frames and to decode them back
to RGB arrays (one thread each, rounds alternating the library order). ``run`` uses
OpenCV (:mod:`hsnet_deploy.runtime.video_source` says why); this is the evidence.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def frames_for(n: int, size: int) -> list[np.ndarray]:
    out = []
    for i in range(n):
        rng = np.random.default_rng(i)
        img = np.clip(np.linspace(0, 200, size)[None, :, None] + rng.normal(0, 12, (size, size, 3)), 0, 255)
        x = (7 * i) % (size // 2)
        img[size // 4 : size // 2, x : x + size // 4] = (250, 60, 60)
        out.append(img.astype(np.uint8))
    return out


def opencv_encode(path: Path, frames: list[np.ndarray], fourcc: str) -> float:
    import cv2

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25.0, (w, h))
    if not writer.isOpened():
        return float("nan")
    start = time.perf_counter()
    for f in frames:
        writer.write(np.ascontiguousarray(f[..., ::-1]))
    writer.release()
    return (time.perf_counter() - start) / len(frames)


def opencv_decode(path: Path) -> tuple[float, int]:
    import cv2

    capture, n = cv2.VideoCapture(str(path)), 0
    start = time.perf_counter()
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        n += 1
    return (time.perf_counter() - start) / max(1, n), n


def pyav_encode(path: Path, frames: list[np.ndarray], codec: str) -> float:
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25, options={"preset": "veryfast"} if codec == "libx264" else {})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.thread_count = 1
        start = time.perf_counter()
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        container.mux(stream.encode())
        return (time.perf_counter() - start) / len(frames)


def pyav_decode(path: Path) -> tuple[float, int]:
    import av

    with av.open(str(path)) as container:
        start, n = time.perf_counter(), 0
        for frame in container.decode(video=0):
            frame.to_ndarray(format="rgb24")
            n += 1
        return (time.perf_counter() - start) / max(1, n), n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    libraries = {}
    try:
        import cv2

        cv2.setNumThreads(1)
        libraries["opencv"] = f"opencv {cv2.__version__}: V4L2 camera input: {'V4L2' in [cv2.videoio_registry.getBackendName(b) for b in cv2.videoio_registry.getCameraBackends()]}"
    except ImportError:
        pass
    try:
        import av

        codecs = [c for c in ("libx264", "mpeg4") if c in av.codecs_available]
        libraries["pyav"] = f"pyav {av.__version__}: V4L2 camera input: {'v4l2' in av.formats_available}; encoders {', '.join(codecs)}"
    except ImportError:
        pass
    for line in libraries.values():
        print(line)
    frames = frames_for(args.frames, args.size)
    cases = {  # name -> (encode or None, decode, the file both use, the libraries it needs)
        "opencv mpeg4 (.mp4)": (lambda p: opencv_encode(p, frames, "mp4v"), opencv_decode, "opencv.mp4", {"opencv"}),
        "pyav h264 veryfast (.mp4)": (lambda p: pyav_encode(p, frames, "libx264"), pyav_decode, "h264.mp4", {"pyav"}),
        "pyav mpeg4 (.mp4)": (lambda p: pyav_encode(p, frames, "mpeg4"), pyav_decode, "mpeg4.mp4", {"pyav"}),
        "opencv decoding pyav's h264": (None, opencv_decode, "h264.mp4", {"opencv", "pyav"}),
    }
    times: dict[str, dict[str, list[float]]] = {name: {"encode": [], "decode": []} for name in cases}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.rounds):
            for name in list(cases) if r % 2 == 0 else list(reversed(cases)):
                encode, decode, file_name, needs = cases[name]
                path = Path(folder) / file_name
                if not needs <= set(libraries):
                    continue
                if encode is not None:
                    times[name]["encode"].append(encode(path))
                if path.exists():
                    per_frame, n = decode(path)
                    times[name]["decode"].append(per_frame if n == args.frames else float("nan"))
    print(f"\n{args.frames} frames of {args.size}x{args.size}, one thread, median of {args.rounds} rounds (ms per frame)")
    print(f"{'case':<30} {'encode':>7} {'decode':>7}")
    for name, t in times.items():
        if t["decode"]:
            enc = f"{statistics.median(t['encode']) * 1e3:7.2f}" if t["encode"] else "      -"
            print(f"{name:<30} {enc} {statistics.median(t['decode']) * 1e3:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
