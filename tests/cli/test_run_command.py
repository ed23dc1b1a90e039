"""``hsnet-deploy run``: single query, folder of queries, and every bad-input path
(one error line, exit status 2, nothing written)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnxruntime")

from helpers.fake_graphs import make_episode_graph, make_split_graphs  # noqa: E402
from hsnet_deploy import cli  # noqa: E402
from hsnet_deploy.runtime import Segmenter  # noqa: E402
from hsnet_deploy.runtime.onnxruntime.runner import OnnxRuntimeRunner  # noqa: E402

S = 16



def test_run_is_registered():
    assert cli.COMMANDS["run"] == "run"


def _image(h, w, seed):
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, w)[None, :, None]
    return np.clip(ramp + rng.normal(0, 30, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture
def files(tmp_path):
    """A model, a query, two supports with masks, and an empty output folder."""
    data = tmp_path / "data"
    data.mkdir()
    model = make_episode_graph(data / "m.onnx", img_size=S)
    Image.fromarray(_image(30, 44, 0)).save(data / "q.jpg")
    for i, (h, w) in enumerate([(24, 32), (40, 28)], start=1):
        Image.fromarray(_image(h, w, i)).save(data / f"s{i}.png")
        m = np.zeros((h, w), np.uint8)
        m[h // 4 : 3 * h // 4, w // 3 :] = 255
        Image.fromarray(m).save(data / f"m{i}.png")
    out = tmp_path / "out"
    out.mkdir()
    return data, model, out


def _support_args(data, k=2):
    args = []
    for i in range(1, k + 1):
        args += ["--support", data / f"s{i}.png", "--mask", data / f"m{i}.png"]
    return args


def _listing(folder):
    return sorted(p.name for p in folder.rglob("*"))


def test_single_query_writes_mask_and_overlay(run_cli, files):
    data, model, out = files
    code, stdout, err = run_cli(model, "--query", data / "q.jpg", *_support_args(data), "-o", out / "pred.png", "--overlay", out / "ov.png", "--device", "cpu")
    assert code == 0, err
    assert _listing(out) == ["ov.png", "pred.png"]
    pred = np.asarray(Image.open(out / "pred.png"))
    assert pred.shape == (30, 44) and pred.dtype == np.uint8 and set(np.unique(pred)) <= {0, 255}
    with Segmenter.load(model, device="cpu") as seg:
        want = seg.segment(data / "q.jpg", [data / "s1.png", data / "s2.png"], [data / "m1.png", data / "m2.png"])
    np.testing.assert_array_equal(pred, want * 255)
    assert 0 < want.sum() < want.size
    overlay = Image.open(out / "ov.png")
    assert overlay.mode == "RGB" and overlay.size == (44, 30)


def test_query_folder_encodes_support_once(run_cli, files, tmp_path, monkeypatch):
    data, model, out = files
    make_split_graphs(model, img_size=S)
    queries = tmp_path / "queries"
    queries.mkdir()
    sizes = {"a.jpg": (20, 30), "b.png": (33, 17), "c.bmp": (16, 16)}
    for name, (h, w) in sizes.items():
        Image.fromarray(_image(h, w, len(name) + h)).save(queries / name)
    (queries / "notes.txt").write_text("not an image, ignored")
    calls = {"support_encoder": 0, "query": 0}
    original = OnnxRuntimeRunner._infer

    def counting(self, feed, copy_outputs):
        calls[self.info.kind] += 1
        return original(self, feed, copy_outputs)

    monkeypatch.setattr(OnnxRuntimeRunner, "_infer", counting)
    masks_dir, overlays = out / "masks", out / "overlays"
    code, _, err = run_cli(model, "--query", queries, *_support_args(data), "-o", masks_dir, "--overlay", overlays)
    assert code == 0, err
    assert calls == {"support_encoder": 1, "query": 3}
    assert _listing(masks_dir) == ["a.png", "b.png", "c.png"] == _listing(overlays)
    for name, (h, w) in sizes.items():
        pred = np.asarray(Image.open(masks_dir / (name.rsplit(".", 1)[0] + ".png")))
        assert pred.shape == (h, w) and set(np.unique(pred)) <= {0, 255}
    assert "segmenting" in err  # the progress bar


def _corrupt(path):
    path.write_bytes(path.read_bytes()[:60])


@pytest.mark.parametrize(
    "problem, message",
    [
        ("missing_query", "query not found"),
        ("missing_model", "model not found"),
        ("corrupt_support", "cannot read image .*s1.png"),
        ("size_mismatch", "mask .*m1.png is 20x24 but its image .*s1.png is 32x24"),
        ("non_binary_mask", "mask .*m2.png is not binary"),
        ("empty_mask", "mask .*m1.png is empty"),
        ("k_mismatch", "exported for 1-shot episodes but 2 support"),
        ("mask_count", "2 --support but 1 --mask"),
        ("not_png", "must be a .png file"),
        ("foreign_model", "not an hsnet-deploy model"),
        ("overwrite_input", "would overwrite an input"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(run_cli, files, problem, message):
    data, model, out = files
    query, output = data / "q.jpg", out / "pred.png"
    extra = _support_args(data)
    if problem == "missing_query":
        query = data / "nope.jpg"
    elif problem == "missing_model":
        model = data / "nope.onnx"
    elif problem == "corrupt_support":
        _corrupt(data / "s1.png")
    elif problem == "size_mismatch":
        Image.fromarray(np.ones((24, 20), np.uint8)).save(data / "m1.png")
    elif problem == "non_binary_mask":
        Image.fromarray(np.arange(40 * 28, dtype=np.uint32).reshape(40, 28).astype(np.uint8)).save(data / "m2.png")
    elif problem == "empty_mask":
        Image.fromarray(np.zeros((24, 32), np.uint8)).save(data / "m1.png")
    elif problem == "k_mismatch":
        model = make_episode_graph(data / "k1.onnx", img_size=S, shots=1)
    elif problem == "mask_count":
        extra = extra[:-2]
    elif problem == "not_png":
        output = out / "pred.jpg"
    elif problem == "foreign_model":
        model = make_episode_graph(data / "foreign.onnx", with_metadata=False)
    elif problem == "overwrite_input":
        output = data / "m1.png"
    before = _listing(data)
    code, stdout, err = run_cli(model, "--query", query, *extra, "-o", output, "--overlay", out / "ov.png")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hsnet-deploy run: error: ")
    assert re.search(message, lines[0]), lines[0]
    assert _listing(out) == []
    assert _listing(data) == before


def test_corrupt_image_in_query_folder_fails_before_any_write(run_cli, files, tmp_path):
    data, model, out = files
    queries = tmp_path / "queries"
    queries.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(_image(20, 20, 0)).save(queries / name)
    _corrupt(queries / "c.png")
    code, _, err = run_cli(model, "--query", queries, *_support_args(data), "-o", out / "masks")
    assert code == 2 and "cannot read image" in err and "c.png" in err
    assert not (out / "masks").exists()


def test_query_folder_name_clash_and_same_folder(run_cli, files, tmp_path):
    data, model, out = files
    queries = tmp_path / "queries"
    queries.mkdir()
    Image.fromarray(_image(20, 20, 0)).save(queries / "x.png")
    Image.fromarray(_image(20, 20, 1)).save(queries / "x.jpg")
    code, _, err = run_cli(model, "--query", queries, *_support_args(data), "-o", out / "masks")
    assert code == 2 and "would both be written as x.png" in err
    (queries / "x.jpg").unlink()
    code, _, err = run_cli(model, "--query", queries, *_support_args(data), "-o", queries)
    assert code == 2 and "is the query folder" in err
    Image.fromarray(_image(20, 20, 2)).save(queries / "m1.jpg")  # its prediction would replace mask m1.png
    code, _, err = run_cli(model, "--query", queries, *_support_args(data), "-o", data)
    assert code == 2 and "m1.png would overwrite an input" in err
    assert _listing(queries) == ["m1.jpg", "x.png"] and _listing(out) == []


def test_unknown_option_exits_2(run_cli, files, capsys):
    data, model, out = files
    with pytest.raises(SystemExit) as exit_info:
        run_cli(model, "--query", data / "q.jpg", *_support_args(data), "-o", out / "p.png", "--bogus")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized arguments: --bogus" in err  # one line, no usage dump
    assert _listing(out) == []


def test_every_input_file_is_decoded_once(run_cli, files, tmp_path, monkeypatch):
    from collections import Counter

    from hsnet_deploy.runtime import images

    data, model, out = files
    queries = tmp_path / "queries"
    queries.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(_image(20, 20, len(name))).save(queries / name)
    opened = Counter()
    original = images._open_decoded

    def counting(path, what):
        opened[path.name] += 1
        return original(path, what)

    monkeypatch.setattr(images, "_open_decoded", counting)
    code, _, err = run_cli(model, "--query", queries, *_support_args(data), "-o", out / "masks", "--overlay", out / "ov")
    assert code == 0, err
    assert opened == {"s1.png": 1, "m1.png": 1, "s2.png": 1, "m2.png": 1, "a.png": 1, "b.png": 1}
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["masks", "masks/a.png", "masks/b.png", "ov", "ov/a.png", "ov/b.png"]  # no staging left


def test_run_threads_reach_the_session(run_cli, files, monkeypatch):
    from hsnet_deploy.runtime.onnxruntime.loader import OnnxSessionLoader

    data, model, out = files
    seen = []
    original = OnnxSessionLoader.__call__

    def spy(self):
        seen.append(self.threads)
        return original(self)

    monkeypatch.setattr(OnnxSessionLoader, "__call__", spy)
    code, _, err = run_cli(model, "--query", data / "q.jpg", *_support_args(data), "-o", out / "p.png", "--threads", "1", "--device", "cpu")
    assert code == 0, err
    assert seen == [1]
