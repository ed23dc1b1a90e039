"""The parts of a stream run: FrameReader's two policies, the latency/frame-rate figures,
the video writer's held frames and atomic commit, and how ``--query`` is classified."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hsnet_deploy.errors import UserError
from hsnet_deploy.runtime.frame_reader import FrameReader
from hsnet_deploy.runtime.stream_stats import StreamStats
from hsnet_deploy.runtime.video_source import parse_stream_spec


def counting(n, log=None, delay=0.0):
    for i in range(n):
        if delay:
            time.sleep(delay)
        if log is not None:
            log.append(i)
        yield i


def test_reader_keeps_every_frame_in_order_and_never_runs_ahead():
    log: list[int] = []
    reader = FrameReader(counting(30, log), realtime=False, capacity=2)
    got = []
    for item, arrived in reader:
        time.sleep(0.005)  # a consumer slower than the source
        assert max(log) <= item + 3  # at most capacity frames queued, plus the one being read
        got.append(item)
        assert arrived <= time.perf_counter()
    assert got == list(range(30)) and reader.dropped == 0 and reader.read == 30


def test_realtime_reader_hands_out_the_newest_frame_and_counts_the_rest():
    reader = FrameReader(counting(60, delay=0.002), realtime=True)
    got = []
    for item, _ in reader:
        got.append(item)
        time.sleep(0.02)  # ten source frames per consumed one
    assert got == sorted(got) and got[-1] == 59  # in order, and the last frame is never lost
    assert reader.dropped == 60 - len(got) and reader.dropped > 30
    assert reader.read == 60


def test_paced_reader_releases_frame_i_at_i_over_fps():
    reader = FrameReader(counting(6), realtime=True, fps=50.0)
    start = time.perf_counter()
    arrivals = [arrived - start for _, arrived in reader]
    assert len(arrivals) == 6  # a fast consumer drops nothing
    for i, t in enumerate(arrivals):
        assert t >= i / 50.0 - 0.005
    assert arrivals[-1] < 5 / 50.0 + 0.1


def test_reader_raises_the_source_error_after_the_frames_before_it():
    def breaking():
        yield from range(3)
        raise UserError("camera lost")

    got = []
    with pytest.raises(UserError, match="camera lost"):
        for item, _ in FrameReader(breaking(), realtime=False):
            got.append(item)
    assert got == [0, 1, 2]


def test_leaving_the_loop_stops_the_reader_and_closes_the_source():
    closed = threading.Event()

    def camera():
        try:
            i = 0
            while True:
                time.sleep(0.001)
                yield i
                i += 1
        finally:
            closed.set()

    reader = FrameReader(camera(), realtime=True)
    for item, _ in reader:
        if item > 5:
            break
    assert closed.wait(2.0) and not reader._thread.is_alive()


def test_stats_percentiles_and_rates():
    stats = StreamStats(window=3)
    stats.start = 0.0
    for i, latency in enumerate([0.010, 0.020, 0.030, 0.040]):
        done = 1.0 + 0.5 * i
        stats.add(done - latency, done)
    # window of the last 3: latencies 20, 30, 40 ms; 2 intervals over 1.0 s
    assert stats.live_text(dropped=7) == "2.0 frames/s, latency p50 30 ms p90 38 ms, dropped 7"
    # all 4: p50 25, p90 37; 4 frames over 2.5 s from the start
    assert stats.summary(10, 6) == "4 frames in 2.5 s: 1.60 frames/s, latency p50 25.0 ms p90 37.0 ms (from the frame's read); realtime: dropped 6 of 10 source frames"
    assert StreamStats().summary(0, None) == "no frame was segmented"


@pytest.mark.parametrize(
    "text, kind, target",
    [
        ("rtsp://cam.local:8554/live", "url", "rtsp://cam.local:8554/live"),
        ("/dev/video2", "camera", 2),
        ("0", "camera", 0),
        ("gst:videotestsrc ! appsink", "gstreamer", "videotestsrc ! appsink"),
    ],
)
def test_stream_specs(text, kind, target):
    spec = parse_stream_spec(text)
    assert spec is not None and (spec.kind, spec.target) == (kind, target)


def test_images_folders_and_missing_paths_are_not_streams(tmp_path):
    (tmp_path / "q.JPG").write_bytes(b"x")
    (tmp_path / "clip.mp4").write_bytes(b"x")
    (tmp_path / "0").mkdir()
    assert parse_stream_spec(str(tmp_path / "q.JPG")) is None
    assert parse_stream_spec(str(tmp_path)) is None
    assert parse_stream_spec(str(tmp_path / "missing.mp4")) is None  # "query not found" later
    assert parse_stream_spec(str(tmp_path / "clip.mp4")).kind == "video"


cv2 = pytest.importorskip("cv2")

from hsnet_deploy.runtime.video_writer import VideoFileWriter  # noqa: E402


def _frames_of(path):
    capture, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, bgr = capture.read()
        if not ok:
            return frames
        frames.append(bgr[..., ::-1])


def _flat(value, h=20, w=30):
    return np.full((h, w, 3), value, np.uint8)


def test_writer_holds_the_last_picture_over_dropped_frames(tmp_path):
    target = tmp_path / "v.avi"
    writer = VideoFileWriter(target, fps=10.0)
    for index, value in [(0, 40), (3, 200), (4, 120)]:
        writer.write(_flat(value), index)
    assert not target.exists()  # written under a temporary name until commit
    assert writer.commit() and (writer.frames, writer.held) == (5, 2)
    means = [int(round(f.mean())) for f in _frames_of(target)]
    assert len(means) == 5
    for got, want in zip(means, [40, 40, 40, 200, 120]):
        assert abs(got - want) <= 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.avi"]


def test_writer_pads_odd_sizes_and_refuses_a_size_change(tmp_path):
    writer = VideoFileWriter(tmp_path / "v.mp4", fps=None)
    writer.write(_flat(90, 21, 31), 0)
    with pytest.raises(UserError, match="frame 1 is 30x20 but the video .* was opened at 31x21"):
        writer.write(_flat(90, 20, 30), 1)
    assert writer.commit()
    (first,) = _frames_of(tmp_path / "v.mp4")
    assert first.shape == (22, 32, 3)


def test_writer_discard_and_empty_commit_leave_the_target_alone(tmp_path):
    target = tmp_path / "v.mkv"
    target.write_bytes(b"earlier")
    writer = VideoFileWriter(target, fps=25.0)
    writer.write(_flat(10), 0)
    writer.discard()
    assert target.read_bytes() == b"earlier"
    assert VideoFileWriter(target, fps=25.0).commit() is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mkv"]
    with pytest.raises(UserError, match="must end in one of .avi, .mkv, .mp4"):
        VideoFileWriter(tmp_path / "v.gif", fps=25.0)


def test_a_stop_signal_during_a_write_waits_for_the_write_to_finish():
    import os
    import signal

    from hsnet_deploy.runtime.stream_run import StopSignals

    finished = []
    before = signal.getsignal(signal.SIGTERM)
    with StopSignals() as signals:
        with pytest.raises(KeyboardInterrupt):
            with signals.deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # the handler has run by now, and must not have raised
                finished.append("frame written")
        assert finished == ["frame written"]
        with pytest.raises(KeyboardInterrupt):  # outside a write it stops at once
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    assert signal.getsignal(signal.SIGTERM) is before  # the caller's handler is back
