"""The plain folder format DIR/<class>/<name>.jpg + <name>.png."""

from pathlib import Path

import numpy as np
import pytest
from hsnet_deploy.errors import UserError
from hsnet_deploy.hsnet.data import FolderDataset
from PIL import Image


def write_pair(folder: Path, name: str, mask: np.ndarray, mode: str = "L", seed: int = 0):
    folder.mkdir(parents=True, exist_ok=True)
    h, w = mask.shape
    pixels = np.random.RandomState(seed).randint(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / f"{name}.jpg", format="JPEG")
    if mode == "P":
        img = Image.frombytes("P", (w, h), np.ascontiguousarray(mask, np.uint8).tobytes())
        img.putpalette([255, 255, 255] * 256)  # every index white: colours must not matter
    else:
        img = Image.fromarray(mask.astype(np.uint8), mode="L")
    img.save(folder / f"{name}.png", format="PNG")


def square_mask(size=8, fill=255):
    m = np.zeros((size, size), dtype=np.uint8)
    m[2:5, 2:5] = fill
    return m


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "mine"
    for i in range(3):
        write_pair(root / "zebra", f"z{i}", square_mask(fill=255), seed=i)
    write_pair(root / "apple", "a1", square_mask(fill=1), mode="P", seed=10)
    write_pair(root / "apple", "a0", square_mask(fill=1), seed=11)
    grey = square_mask(fill=200)
    grey[0, 0] = 100  # anti-aliased edge below 128: background
    write_pair(root / "apple", "a2", grey, seed=12)
    (root / ".cache").mkdir()
    (root / "apple" / "notes.txt").write_text("not an image")
    return root


def test_classes_queries_and_masks(tree):
    ds = FolderDataset(tree, shot=2, seed=0)
    assert ds.class_names == ["apple", "zebra"] and ds.class_ids == [0, 1] and ds.nclass == 2
    refs = ds.refs()
    assert [r.query_name for r in refs] == ["apple/a0.jpg", "apple/a1.jpg", "apple/a2.jpg",
                                           "zebra/z0.jpg", "zebra/z1.jpg", "zebra/z2.jpg"]
    for r in refs:
        cls = r.query_name.split("/")[0]
        assert r.class_id == ds.class_names.index(cls)
        assert all(s.startswith(cls + "/") and s != r.query_name for s in r.support_names)
    expected = square_mask(fill=1)
    for ep in ds:
        ep.check()
        for mask in [ep.query_mask] + ep.support_masks:
            assert np.array_equal(mask, expected)


def test_plan_is_seeded(tree):
    a = FolderDataset(tree, shot=3, seed=0, n_episodes=40).refs()
    assert a == FolderDataset(tree, shot=3, seed=0, n_episodes=40).refs()
    assert a != FolderDataset(tree, shot=3, seed=1, n_episodes=40).refs()
    assert [r.query_name for r in a[:12]] == [r.query_name for r in a[:6]] * 2  # n mod len
    rng = np.random.RandomState(0)
    pools = {"apple": ["apple/a0.jpg", "apple/a1.jpg", "apple/a2.jpg"],
             "zebra": ["zebra/z0.jpg", "zebra/z1.jpg", "zebra/z2.jpg"]}
    for r in a:
        pool = pools[r.query_name.split("/")[0]]
        expected = []
        while len(expected) < 3:
            s = str(rng.choice(pool, 1, replace=False)[0])
            if s != r.query_name:
                expected.append(s)
        assert r.support_names == tuple(expected)


def test_errors(tree, tmp_path):
    with pytest.raises(UserError, match="dataset folder not found"):
        FolderDataset(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no class sub-folder"):
        FolderDataset(tmp_path / "empty")
    (tree / "zebra" / "z2.png").unlink()
    with pytest.raises(UserError, match="missing mask .*z2.png"):
        FolderDataset(tree)
    write_pair(tree / "zebra", "z2", square_mask(size=9))  # 9x9, but jpg rewritten too
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tree / "zebra" / "z2.jpg")
    ds = FolderDataset(tree)
    with pytest.raises(UserError, match="z2.png is 9x9 but its image .*z2.jpg is 8x8"):
        ds.read_pair("zebra/z2.jpg")
    (tree / "zebra" / "z1.jpg").write_bytes(b"garbage")
    with pytest.raises(UserError, match="corrupt or unreadable image .*z1.jpg"):
        ds.read_pair("zebra/z1.jpg")
    write_pair(tree / "lonely", "only", square_mask())
    with pytest.raises(UserError, match="lonely holds 1 .jpg image"):
        FolderDataset(tree)
