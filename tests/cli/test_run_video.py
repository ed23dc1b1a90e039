"""``hsnet-deploy run`` on videos, cameras and network streams (issue 13).

Generated short videos go through ``run`` and come out with the frame count and the masks
of the frame-by-frame path; a truncated video and a broken network stream give one line
and a playable partial output; a missing camera gives one line and writes nothing;
``--realtime`` under an artificially slow model drops frames and says how many.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnxruntime")
cv2 = pytest.importorskip("cv2")

from helpers.fake_graphs import make_split_export  # noqa: E402
from hsnet_deploy.runtime import Segmenter  # noqa: E402

S = 16
H, W = 36, 48



def frame(i: int) -> np.ndarray:
    """(H, W, 3) RGB: a gradient with a bright square moving one step per frame."""
    rng = np.random.default_rng(i)
    img = np.clip(np.linspace(20, 160, W)[None, :, None] + rng.normal(0, 20, (H, W, 3)), 0, 255)
    x = 2 + (3 * i) % (W - 14)
    img[8:22, x : x + 12] = 250
    return img.astype(np.uint8)


def write_video(path: Path, n: int, fps: float = 25.0) -> Path:
    fourcc = {".avi": "MJPG", ".mp4": "mp4v", ".mkv": "mp4v"}[path.suffix]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (W, H))
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.ascontiguousarray(frame(i)[..., ::-1]))
    writer.release()
    return path


def decoded_frames(path: Path) -> list[np.ndarray]:
    """The frames as OpenCV decodes them, RGB: what the frame-by-frame path sees."""
    capture, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def video_frame_count(path: Path) -> int:
    return len(decoded_frames(path))


@pytest.fixture
def setup(tmp_path):
    model = make_split_export(tmp_path / "data", img_size=S)
    data = model.parent
    support = frame(3)
    mask = np.zeros((H, W), np.uint8)
    mask[8:22, 11:23] = 255
    Image.fromarray(support).save(data / "s.png")
    Image.fromarray(mask).save(data / "m.png")
    out = tmp_path / "out"
    out.mkdir()
    return data, model, out


def support_args(data):
    return ["--support", data / "s.png", "--mask", data / "m.png", "--device", "cpu"]


def frame_by_frame(model, data, frames):
    with Segmenter.load(model, device="cpu") as seg:
        seg.set_support([np.asarray(Image.open(data / "s.png"))], [np.asarray(Image.open(data / "m.png")) // 255])
        return [seg.segment(f) for f in frames]


def mask_pngs(folder: Path) -> dict[int, np.ndarray]:
    return {int(p.stem.split("_")[1]): np.asarray(Image.open(p)) // 255 for p in sorted(folder.glob("frame_*.png"))}


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("hsnet-deploy run:")]


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_video_gives_every_frame_with_the_frame_by_frame_masks(run_cli, setup, suffix):
    data, model, out = setup
    video = write_video(data / f"clip{suffix}", 24)
    code, stdout, err = run_cli(model, "--query", video, *support_args(data), "-o", out / "masks", "--overlay", out / "overlay.mkv")
    assert code == 0, err
    want = frame_by_frame(model, data, decoded_frames(video))
    assert len({w.tobytes() for w in want}) > 3  # the moving square really changes the masks
    got = mask_pngs(out / "masks")
    assert sorted(got) == list(range(24))
    for i, w in enumerate(want):
        np.testing.assert_array_equal(got[i], w)
    assert video_frame_count(out / "overlay.mkv") == 24
    assert "24 frames in" in stdout and "frames/s, latency p50" in stdout
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left


def test_overlaid_video_output_shows_the_masks(run_cli, setup):
    data, model, out = setup
    video = write_video(data / "clip.mp4", 12)
    code, _, err = run_cli(model, "--query", video, *support_args(data), "-o", out / "seg.mp4")
    assert code == 0, err
    written = decoded_frames(out / "seg.mp4")
    source = decoded_frames(video)
    masks = frame_by_frame(model, data, source)
    assert len(written) == 12 and written[0].shape == (H, W, 3)
    for w, s, m in zip(written, source, masks):  # the tint is where the mask is (lossy codec: means)
        fg = m.astype(bool)
        assert 0 < fg.sum() < fg.size
        redness = w[..., 0].astype(float) - w[..., 1:].mean(axis=2)
        assert redness[fg].mean() > redness[~fg].mean() + 20
        np.testing.assert_allclose(w[~fg].mean(), s[~fg].mean(), atol=12)


def test_truncated_video_keeps_a_playable_partial_output(run_cli, setup):
    data, model, out = setup
    full = write_video(data / "full.avi", 30)
    cut = data / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 6 // 10])
    readable = len(decoded_frames(cut))
    assert 0 < readable < 29
    code, stdout, err = run_cli(model, "--query", cut, *support_args(data), "-o", out / "masks", "--overlay", out / "partial.mkv")
    assert code == 1
    (line,) = error_lines(err)
    assert f"ended after {readable} of the 30 frames" in line and "truncated" in line
    assert "Traceback" not in err
    assert video_frame_count(out / "partial.mkv") == readable  # closed properly: it plays
    got = mask_pngs(out / "masks")
    want = frame_by_frame(model, data, decoded_frames(cut))
    assert sorted(got) == list(range(readable))
    for i in range(readable):
        np.testing.assert_array_equal(got[i], want[i])


@pytest.mark.parametrize("camera", ["/dev/video97", "97"])
def test_missing_camera_is_one_line_and_writes_nothing(run_cli, setup, camera):
    data, model, out = setup
    keep = out / "seg.mp4"
    keep.write_bytes(b"earlier result")
    code, _, err = run_cli(model, "--query", camera, *support_args(data), "-o", keep)
    assert code == 2
    assert err.strip() == "hsnet-deploy run: error: camera /dev/video97 not found: there is no /dev/video97".replace(
        "camera /dev/video97", f"camera {camera}"
    )
    assert keep.read_bytes() == b"earlier result"
    assert sorted(p.name for p in out.iterdir()) == ["seg.mp4"]


class SlowModel:
    """Segmenter.network_logits slowed to ``seconds`` per call, as a slow device would be."""

    def __init__(self, monkeypatch, seconds):
        original = Segmenter.network_logits
        self.calls = 0

        def slow(seg, query_img, support):
            self.calls += 1
            time.sleep(seconds)
            return original(seg, query_img, support)

        monkeypatch.setattr(Segmenter, "network_logits", slow)


@pytest.mark.slow
def test_realtime_drops_frames_under_a_slow_model_and_says_how_many(run_cli, setup, monkeypatch):
    data, model, out = setup
    video = write_video(data / "clip.avi", 40, fps=50.0)  # 0.8 s of video
    slow = SlowModel(monkeypatch, 0.12)  # ~8 frames/s: most frames must be dropped
    code, stdout, err = run_cli(model, "--query", video, *support_args(data), "--realtime", "-o", out / "masks", "--overlay", out / "live.mkv")
    assert code == 0, err
    got = mask_pngs(out / "masks")
    dropped = 40 - len(got)
    assert 2 <= len(got) <= 20 and dropped >= 20
    assert f"(from the frame's read); realtime: dropped {dropped} of 40 source frames" in stdout
    assert slow.calls == len(got)  # the model never ran on a dropped frame
    want = frame_by_frame(model, data, decoded_frames(video))
    for i, mask in got.items():  # each kept frame has its own mask, whatever was dropped around it
        np.testing.assert_array_equal(mask, want[i])
    # the video keeps the source's timeline: dropped frames hold the previous picture
    assert video_frame_count(out / "live.mkv") == max(got) + 1 - min(got)


def test_without_realtime_a_slow_model_loses_no_frame(run_cli, setup, monkeypatch):
    data, model, out = setup
    video = write_video(data / "clip.avi", 10, fps=50.0)
    SlowModel(monkeypatch, 0.05)
    code, stdout, err = run_cli(model, "--query", video, *support_args(data), "-o", out / "masks")
    assert code == 0, err
    assert sorted(mask_pngs(out / "masks")) == list(range(10))
    assert "dropped" not in stdout
    # the file is read ahead (queue + prefetch: 3 frames, 150 ms): latency counts from the
    # frame's turn, so it is one model call, not the time spent waiting in the queue
    p50 = float(re.search(r"latency p50 ([0-9.]+) ms p90 [0-9.]+ ms \(from the frame's turn\)", stdout).group(1))
    assert 50 <= p50 < 90


@pytest.fixture
def http_folder(tmp_path):
    """A local HTTP server for tmp_path/www (FFmpeg reads http:// like any stream)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_network_stream_and_one_that_breaks(run_cli, setup, http_folder):
    data, model, out = setup
    root, url = http_folder
    full = write_video(root / "cam.avi", 20)
    (root / "cut.avi").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    code, stdout, err = run_cli(model, "--query", f"{url}/cam.avi", *support_args(data), "-o", out / "whole")
    assert code == 0, err
    assert sorted(mask_pngs(out / "whole")) == list(range(20))
    code, stdout, err = run_cli(model, "--query", f"{url}/cut.avi", *support_args(data), "-o", out / "part")
    assert code == 1
    (line,) = error_lines(err)
    kept = len(mask_pngs(out / "part"))
    assert 0 < kept < 20 and f"ended after {kept} of the 20 frames" in line


def test_unreachable_stream_is_one_line(run_cli, setup):
    data, model, out = setup
    code, _, err = run_cli(model, "--query", "http://127.0.0.1:9/none.mp4", *support_args(data), "-o", out / "x.mp4")
    assert code == 2
    assert err.strip().startswith("hsnet-deploy run: error: cannot open stream http://127.0.0.1:9/none.mp4: unreachable")
    assert not list(out.iterdir())


def test_not_a_video_is_one_line(run_cli, setup):
    data, model, out = setup
    (data / "notes.txt").write_text("not a video")
    code, _, err = run_cli(model, "--query", data / "notes.txt", *support_args(data), "-o", out / "x.mp4")
    assert code == 2 and err.strip().startswith(f"hsnet-deploy run: error: cannot open video {data / 'notes.txt'}: not a video")


@pytest.mark.parametrize(
    "outputs, message",
    [
        (["-o", "pred.png"], "gives many frames; name a video file"),
        (["-o", "a.mp4", "--overlay", "b.mkv"], "both name a video"),
        (["-o", "clip.avi"], "would overwrite an input file"),
        (["-o", "masks", "--overlay", "masks"], "name the same file or folder"),
        (["-o", "out.webm"], "'.webm' is neither a video type this writes"),  # was: a folder named out.webm
        (["-o", "x.txt"], "'.txt' is neither a video type this writes"),
        (["-o", "masks", "--overlay", "ov.gif"], "'.gif' is neither"),
    ],
)
def test_stream_output_targets_are_checked_first(run_cli, setup, outputs, message):
    data, model, out = setup
    video = write_video(data / "clip.avi", 4)
    outputs = [o if o.startswith("-") else (data / o if o == "clip.avi" else out / o) for o in outputs]
    code, _, err = run_cli(model, "--query", video, *support_args(data), *outputs)
    assert code == 2 and message in err, err
    assert video.stat().st_size > 0 and not list(out.iterdir())


def test_a_folder_of_queries_refuses_an_output_named_like_a_file(run_cli, setup):
    data, model, out = setup
    queries = data / "queries"
    queries.mkdir()
    Image.fromarray(frame(0)).save(queries / "q.png")
    for name in ("f8.png", "masks.webm"):
        code, _, err = run_cli(model, "--query", queries, *support_args(data), "-o", out / name)
        assert code == 2 and len(error_lines(err)) == 1 and "name a folder without an extension" in err, err
    assert not list(out.iterdir())


def test_realtime_needs_a_stream(run_cli, setup):
    data, model, out = setup
    Image.fromarray(frame(0)).save(data / "q.png")
    code, _, err = run_cli(model, "--query", data / "q.png", *support_args(data), "--realtime", "-o", out / "p.png")
    assert code == 2 and "--realtime is for video, camera and stream queries" in err


def test_gstreamer_pipeline_without_gstreamer_is_one_line(run_cli, setup):
    if re.search(r"GStreamer:\s+YES", cv2.getBuildInformation()):
        pytest.skip("this OpenCV has GStreamer")
    data, model, out = setup
    code, _, err = run_cli(model, "--query", "gst:videotestsrc ! appsink", *support_args(data), "-o", out / "x.mp4")
    assert code == 2 and "built without GStreamer" in err


def test_missing_opencv_is_one_line(run_cli, setup, monkeypatch):
    import sys

    data, model, out = setup
    video = write_video(data / "clip.avi", 3)
    monkeypatch.setitem(sys.modules, "cv2", None)
    code, _, err = run_cli(model, "--query", video, *support_args(data), "-o", out / "masks")
    assert code == 2 and "pip install 'hsnet-deploy[video]'" in err


SLOW_RUN = """
import sys, time
from hsnet_deploy.runtime import Segmenter
original = Segmenter.network_logits
def slow(seg, query_img, support):
    time.sleep(0.1)
    return original(seg, query_img, support)
Segmenter.network_logits = slow
from hsnet_deploy import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigterm_stops_a_stream_cleanly_and_keeps_what_was_segmented(setup):
    """``docker stop`` / systemd send SIGTERM: the run stops like Ctrl-C, output kept and playable."""
    import signal
    import subprocess
    import sys

    data, model, out = setup
    video = write_video(data / "long.avi", 200)
    argv = ["run", model, "--query", video, *support_args(data), "-o", out / "masks", "--overlay", out / "live.mkv"]
    proc = subprocess.Popen([sys.executable, "-c", SLOW_RUN, *map(str, argv)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        staged = [p for d in out.glob(".masks.*") for p in d.glob("*.png")]
        if len(staged) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (line,) = error_lines(err)
    kept = len(mask_pngs(out / "masks"))
    assert 3 <= kept < 200 and line == f"hsnet-deploy run: stopped: interrupted; kept the {kept} frame(s) segmented before"
    assert video_frame_count(out / "live.mkv") == kept
    assert "Traceback" not in err and not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_video_run_needs_no_torch(setup):
    """The Jetson install has no PyTorch: the whole stream path must run without it."""
    import subprocess
    import sys

    data, model, out = setup
    video = write_video(data / "clip.avi", 5)
    code = "import sys; sys.modules['torch'] = None\nfrom hsnet_deploy import cli\nsys.exit(cli.main(sys.argv[1:]))"
    argv = ["run", model, "--query", video, *support_args(data), "-o", out / "masks", "--overlay", out / "v.mkv", "--realtime"]
    done = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(mask_pngs(out / "masks")) >= 1 and video_frame_count(out / "v.mkv") >= 1


class ResizingCamera:
    """A stand-in live source whose resolution changes at frame 4 (an RTSP renegotiation)."""

    is_folder, is_stream, live, fps, expected_frames, path = False, True, True, 25.0, None, None

    class spec:
        label = "camera 9"

    short_label = "camera 9"

    def __iter__(self):
        from hsnet_deploy.runtime.images import Query

        for i in range(8):
            image = frame(i) if i < 4 else np.pad(frame(i), ((0, 2), (0, 0), (0, 0)))
            yield Query(f"frame_{i:06d}", None, image, i)


def test_a_frame_it_cannot_take_stops_the_stream_and_keeps_the_frames_before(setup):
    from hsnet_deploy.runtime.output_plan import OutputPlan
    from hsnet_deploy.runtime.stream_run import segment_stream

    data, model, out = setup
    plan = OutputPlan.checked(ResizingCamera(), out / "v.mkv", out / "masks", [])
    with Segmenter.load(model, device="cpu") as seg:
        seg.set_support([frame(3)], [np.asarray(Image.open(data / "m.png")) // 255])
        with plan.writer() as writer:
            report = segment_stream(seg, ResizingCamera(), writer.write, progress=False)
    assert report.exit_code == 2 and report.stopped.startswith(f"frame 4 is {W}x{H + 2} but the video")
    # frame 4 went into no target: not the video, and not the mask folder either
    assert video_frame_count(out / "v.mkv") == 4 and sorted(mask_pngs(out / "masks")) == [0, 1, 2, 3]


def test_a_mask_folder_may_hold_inputs_unless_a_frame_would_overwrite_one(run_cli, setup):
    data, model, out = setup
    video = write_video(data / "clip.avi", 3)
    code, _, err = run_cli(model, "--query", video, *support_args(data), "-o", data)  # beside the model: fine
    assert code == 0, err
    assert sorted(mask_pngs(data)) == [0, 1, 2]
    Image.open(data / "m.png").save(data / "frame_000001.png")
    code, _, err = run_cli(model, "--query", video, "--support", data / "s.png", "--mask", data / "frame_000001.png", "--device", "cpu", "-o", data)
    assert code == 2 and "holds the input frame_000001.png, which a frame's PNG would overwrite" in err
