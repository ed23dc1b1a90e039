"""benchmarks/video_fps: the run path on a generated video, models side by side (numbers
are not asserted, only that every mode ran over every frame and reports its figures)."""

from __future__ import annotations

import json
import sys

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("cv2")

import video_fps  # noqa: E402  (tools/research, on the path by conftest)
from helpers.fake_graphs import make_episode_graph, make_split_graphs  # noqa: E402


def test_video_fps_runs_every_model_in_both_modes(tmp_path, capsys):
    a = make_episode_graph(tmp_path / "a.onnx", img_size=16)
    make_split_graphs(a, img_size=16)
    b = make_episode_graph(tmp_path / "b.onnx", img_size=16)
    out = tmp_path / "r.json"
    assert video_fps.main([str(a), str(b), "--frames", "6", "--size", "48", "--rounds", "2", "--fps", "1000", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "video: 6 frames, 48x48" in printed
    table = printed.split("realtime at")[1].splitlines()[1:]
    assert table[0].startswith("a.onnx (fp32)") and " 1.00 " in table[0] and table[1].startswith("b.onnx (fp32)")
    results = json.loads(out.read_text())["results"]
    for model in (str(a), str(b)):
        every, live = results[model]["all"], results[model]["realtime"]
        assert len(every) == len(live) == 2
        assert all(p["segmented"] == 6 and p["dropped"] is None and p["stopped"] is None for p in every)
        assert all(p["segmented"] + p["dropped"] == 6 for p in live)
        assert all(0.0 <= p["foreground_iou"] <= 1.0 for p in every)


def test_video_io_reports_what_opencv_can_open_and_its_costs(capsys):
    import video_io

    assert video_io.main(["--frames", "4", "--size", "32", "--rounds", "2"]) == 0
    printed = capsys.readouterr().out
    if sys.platform.startswith("linux"):
        assert "V4L2 camera input: True" in printed.splitlines()[0]  # the reason run uses OpenCV
    row = next(line for line in printed.splitlines() if line.startswith("opencv mpeg4 (.mp4)"))
    encode, decode = (float(v) for v in row.split()[-2:])
    assert encode > 0 and decode > 0  # both ran over all 4 frames (a short read gives nan)
