"""PASCAL-5i, COCO-20i and FSS-1000 loaders on tiny fake dataset trees built here.

The split lists hold real names from the official HSNet split files; the images are
8x8 files written by the test. The episode plans are checked against the protocol's
rules and against a naive re-statement of the official sampling written below.
"""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from helpers.coco_plan import naive_coco_plan
from hsnet_deploy.errors import UserError
from hsnet_deploy.hsnet.data import CocoDataset, FssDataset, PascalDataset, open_dataset
from PIL import Image

# Real lines of pascal/val/fold0.txt (3 per class, and an image listed for two classes).
PASCAL_VAL0 = """2007_000033__01 2007_000061__04 2007_000129__02 2007_000346__05 2007_000529__04
2007_000559__05 2007_000572__02 2007_000762__05 2007_001288__01 2007_001289__03 2007_001311__02
2007_001568__01 2007_002094__03 2007_002400__03 2007_002719__04 2010_001367__02
2010_001367__05""".split()
# Real lines of pascal/trn/fold{1,2,3}.txt (2007_000063 and 2007_000364 have two classes).
PASCAL_TRN = {
    1: "2007_000648__06 2007_000768__06 2007_001857__07 2007_002281__07 2007_000528__08 "
       "2007_000549__08 2007_000063__09 2007_001027__09 2007_000504__10 2007_000904__10",
    2: "2007_000250__11 2007_001185__11 2007_000063__12 2007_000720__12 2007_000392__13 "
       "2007_000836__13 2007_000364__14 2007_000733__14 2007_000170__15 2007_000364__15",
    3: "2007_001149__16 2007_001420__16 2007_001416__17 2007_001872__17 2007_000584__18 "
       "2007_001027__18 2007_000333__19 2007_002462__19 2007_000039__20 2007_000121__20",
}
# Real class names from fss/test.txt, deliberately not in sorted order.
FSS_TEST = ["bus", "hotel_slipper", "burj_al", "reflex_camera", "abe's_flyingfish"]


def write_jpg(path: Path, seed: int, size=(8, 8)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.RandomState(seed).randint(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG")


def write_label_png(path: Path, values: np.ndarray, palette: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    values = np.ascontiguousarray(values, dtype=np.uint8)
    if palette:  # indices = values, colours unrelated to them (as in VOC's palette)
        img = Image.frombytes("P", values.shape[::-1], values.tobytes())
        img.putpalette([v for i in range(256) for v in ((7 * i) % 256, 255 - i, (3 * i) % 256)])
    else:
        img = Image.fromarray(values, mode="L")
    img.save(path, format="PNG")


def pascal_label(classes_1based) -> np.ndarray:
    """8x8 labels: row r holds class classes[r] (1-based), column 7 boundary 255, rest 0."""
    values = np.zeros((8, 8), dtype=np.uint8)
    for row, c in enumerate(classes_1based):
        values[row, :4] = c
    values[:, 7] = 255
    return values


@pytest.fixture
def pascal_tree(tmp_path):
    """DATAPATH/VOC2012/... and SPLITS/pascal/{val,trn}/foldN.txt from the real names above."""
    splits = tmp_path / "splits" / "pascal"
    lines = {("val", 0): PASCAL_VAL0}
    lines.update({("trn", f): PASCAL_TRN[f].split() for f in PASCAL_TRN})
    classes_of = {}
    for (split, fold), ls in lines.items():
        (splits / split).mkdir(parents=True, exist_ok=True)
        (splits / split / f"fold{fold}.txt").write_text("".join(f"{x}\n" for x in ls))
        for x in ls:
            name, c = x.split("__")
            classes_of.setdefault(name, []).append(int(c))
    voc = tmp_path / "data" / "VOC2012"
    for i, (name, classes) in enumerate(sorted(classes_of.items())):
        write_jpg(voc / "JPEGImages" / f"{name}.jpg", seed=i)
        write_label_png(voc / "SegmentationClassAug" / f"{name}.png", pascal_label(classes),
                        palette=i % 2 == 0)
    return tmp_path / "data", tmp_path / "splits"


def naive_pascal_plan(lines, shot, seed, n):
    """The protocol as the notes state it: seeded numpy, query = line n mod len, supports
    by np.random.choice(list of that class's names, 1, replace=False) redrawn while equal
    to the query."""
    rng = np.random.RandomState(seed)
    parsed = [(x.split("__")[0], int(x.split("__")[1]) - 1) for x in lines]
    by_class = {}
    for name, c in parsed:
        by_class.setdefault(c, []).append(name)
    plan = []
    for i in range(n):
        query, c = parsed[i % len(parsed)]
        supports = []
        while len(supports) < shot:
            s = rng.choice(by_class[c], 1, replace=False)[0]
            if s != query:
                supports.append(str(s))
        plan.append((query, tuple(supports), c))
    return plan


def as_tuples(refs):
    return [(r.query_name, r.support_names, r.class_id) for r in refs]


# -- PASCAL ------------------------------------------------------------------------------

@pytest.mark.parametrize("shot", [1, 5])
def test_pascal_plan_follows_protocol(pascal_tree, shot):
    datapath, splits = pascal_tree
    ds = PascalDataset(datapath, splits, fold=0, split="test", shot=shot, seed=0)
    assert len(ds) == 1000 and ds.class_ids == [0, 1, 2, 3, 4] and ds.nclass == 20
    refs = ds.refs()
    assert as_tuples(refs) == naive_pascal_plan(PASCAL_VAL0, shot, 0, 1000)
    names_of_class = {}
    for x in PASCAL_VAL0:
        names_of_class.setdefault(int(x.split("__")[1]) - 1, set()).add(x.split("__")[0])
    for n, ref in enumerate(refs):
        line_name, line_class = PASCAL_VAL0[n % len(PASCAL_VAL0)].split("__")
        assert ref.query_name == line_name and ref.class_id == int(line_class) - 1
        assert len(ref.support_names) == shot
        assert all(s != ref.query_name for s in ref.support_names)
        assert all(s in names_of_class[ref.class_id] for s in ref.support_names)


def test_pascal_plan_is_reproducible_and_seed_dependent(pascal_tree):
    datapath, splits = pascal_tree
    a = PascalDataset(datapath, splits, 0, "test", 1, seed=0).refs()
    b = PascalDataset(datapath, splits, 0, "test", 1, seed=0).refs()
    c = PascalDataset(datapath, splits, 0, "test", 1, seed=1).refs()
    assert a == b
    assert a != c
    # Random access replays the earlier draws: episode 777 first equals the sequential one.
    fresh = PascalDataset(datapath, splits, 0, "test", 1, seed=0)
    assert fresh.ref(777) == a[777] and fresh.ref(3) == a[3]


def test_pascal_episode_masks(pascal_tree):
    datapath, splits = pascal_tree
    ds = PascalDataset(datapath, splits, 0, "val", shot=2, seed=0, n_episodes=len(PASCAL_VAL0))
    for ep in ds:
        ep.check()
        assert ep.query_image.shape == (8, 8, 3)
        q = ep.query_mask
        # Column 7 is the boundary (ignore); the class's own row is foreground.
        assert (q[:, 7] == 255).all()
        assert set(np.unique(q[:, :7])) <= {0, 1} and q[:, :4].any()
        for m in ep.support_masks:
            assert set(np.unique(m)) <= {0, 1} and (m[:, 7] == 0).all() and m.any()
    # 2010_001367 holds classes 2 (row 0) and 5 (row 1): each episode sees only its class.
    two = [ep for ep in ds if ep.query_name == "2010_001367"]
    assert sorted(ep.class_id for ep in two) == [1, 4]
    for ep in two:
        row = 0 if ep.class_id == 1 else 1
        assert ep.query_mask[row, :4].all() and not ep.query_mask[1 - row, :4].any()


def test_pascal_training_split_uses_the_other_folds(pascal_tree):
    datapath, splits = pascal_tree
    ds = PascalDataset(datapath, splits, fold=0, split="trn", shot=1, seed=0)
    expected_lines = sum((PASCAL_TRN[f].split() for f in (1, 2, 3)), [])
    assert len(ds) == len(expected_lines)
    assert ds.class_ids == list(range(5, 20))
    assert as_tuples(ds.refs()) == naive_pascal_plan(expected_lines, 1, 0, len(expected_lines))


def test_pascal_errors(pascal_tree, tmp_path):
    datapath, splits = pascal_tree
    with pytest.raises(UserError, match="datapath"):
        PascalDataset(tmp_path / "nowhere", splits, 0)
    with pytest.raises(UserError, match="split folder"):
        PascalDataset(datapath, tmp_path / "nosplits", 0)
    with pytest.raises(UserError, match="fold1.txt"):
        PascalDataset(datapath, splits, fold=1)
    with pytest.raises(UserError, match="unknown fold"):
        PascalDataset(datapath, splits, fold=4)
    with pytest.raises(UserError, match="unknown split"):
        PascalDataset(datapath, splits, 0, split="train2014")
    ds = PascalDataset(datapath, splits, 0, seed=0)
    ref = ds.ref(0)
    jpg = datapath / "VOC2012" / "JPEGImages" / f"{ref.query_name}.jpg"
    jpg.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(UserError, match=f"corrupt.*{ref.query_name}.jpg"):
        ds.episode(0)
    jpg.unlink()
    with pytest.raises(UserError, match=f"missing file.*{ref.query_name}.jpg"):
        ds.episode(0)
    write_jpg(jpg, seed=0, size=(9, 8))
    with pytest.raises(UserError, match=f"{ref.query_name}.png is 8x8 but its image"):
        ds.episode(0)


def test_pascal_bad_split_line(pascal_tree):
    datapath, splits = pascal_tree
    (splits / "pascal" / "val" / "fold0.txt").write_text("2007_000033__01\n2007_000061\n")
    with pytest.raises(UserError, match="bad line '2007_000061'"):
        PascalDataset(datapath, splits, 0)


def test_pascal_class_with_only_the_query(pascal_tree):
    datapath, splits = pascal_tree
    (splits / "pascal" / "val" / "fold0.txt").write_text("2007_000033__01\n")
    ds = PascalDataset(datapath, splits, 0)
    with pytest.raises(UserError, match="no image other than the query"):
        ds.ref(0)


# -- COCO --------------------------------------------------------------------------------

def coco_names(cls, count):
    return [f"val2014/COCO_val2014_{100000 + 100 * cls + i:012d}.jpg" for i in range(count)]


@pytest.fixture
def coco_tree(tmp_path):
    """Fold 0: classes 0, 4, ..., 76 with 2-4 images each; mask value = class + 1."""
    classwise = {c: [] for c in range(80)}
    for c in range(0, 80, 4):
        classwise[c] = coco_names(c, 2 + c % 3)
    # One image shared by two classes, as in COCO.
    classwise[8].append(classwise[4][0])
    (tmp_path / "splits" / "coco" / "val").mkdir(parents=True)
    with open(tmp_path / "splits" / "coco" / "val" / "fold0.pkl", "wb") as f:
        pickle.dump(classwise, f)
    base = tmp_path / "data" / "COCO2014"
    owners = {}
    for c, names in classwise.items():
        for n in names:
            owners.setdefault(n, []).append(c)
    for i, (name, classes) in enumerate(sorted(owners.items())):
        write_jpg(base / name, seed=i)
        values = np.zeros((8, 8), dtype=np.uint8)
        for row, c in enumerate(classes):
            values[row] = c + 1
        values[7, 7] = 255  # COCO has no ignore label: 255 is just "another value"
        write_label_png(base / "annotations" / name.replace(".jpg", ".png"), values, palette=True)
    return tmp_path / "data", tmp_path / "splits", classwise


@pytest.mark.parametrize("shot", [1, 5])
def test_coco_plan_follows_protocol(coco_tree, shot):
    datapath, splits, classwise = coco_tree
    ds = CocoDataset(datapath, splits, fold=0, split="test", shot=shot, seed=0)
    assert len(ds) == 1000 and ds.class_ids == list(range(0, 80, 4)) and ds.nclass == 80
    refs = ds.refs()
    assert as_tuples(refs) == naive_coco_plan(classwise, ds.class_ids, shot, 0, 1000)
    for ref in refs:
        assert ref.query_name in classwise[ref.class_id]
        assert all(s in classwise[ref.class_id] and s != ref.query_name
                   for s in ref.support_names)
    assert {r.class_id for r in refs} == set(ds.class_ids)
    assert refs == CocoDataset(datapath, splits, 0, "test", shot, seed=0).refs()
    assert refs != CocoDataset(datapath, splits, 0, "test", shot, seed=7).refs()


def test_coco_episode_masks(coco_tree):
    datapath, splits, _ = coco_tree
    ds = CocoDataset(datapath, splits, fold=0, shot=1, seed=0, n_episodes=40)
    for ep in ds:
        ep.check()
        assert set(np.unique(ep.query_mask)) == {0, 1}  # 255 is not an ignore label in COCO
        row = 0
        if ep.query_name in (n for n in ds.class_images[8] if n in ds.class_images[4]):
            row = 0 if ep.class_id == 4 else 1
        assert ep.query_mask[row].all() and ep.query_mask.sum() == 8


def test_coco_errors(coco_tree, tmp_path):
    datapath, splits, classwise = coco_tree
    with pytest.raises(UserError, match="COCO2014"):
        CocoDataset(tmp_path / "nowhere", splits, 0)
    with pytest.raises(UserError, match="fold2.pkl"):
        CocoDataset(datapath, splits, 2)
    pkl = splits / "coco" / "val" / "fold0.pkl"
    pkl.write_bytes(b"not a pickle")
    with pytest.raises(UserError, match="cannot read COCO split file"):
        CocoDataset(datapath, splits, 0)
    classwise = dict(classwise)
    classwise[12] = []
    pkl.write_bytes(pickle.dumps(classwise))
    with pytest.raises(UserError, match="no image for class 12"):
        CocoDataset(datapath, splits, 0)


# -- FSS-1000 ----------------------------------------------------------------------------

@pytest.fixture
def fss_tree(tmp_path):
    (tmp_path / "splits" / "fss").mkdir(parents=True)
    # CRLF line ends, as in the official test.txt
    (tmp_path / "splits" / "fss" / "test.txt").write_bytes(
        "".join(f"{c}\r\n" for c in FSS_TEST).encode())
    base = tmp_path / "data" / "FSS-1000"
    for ci, cat in enumerate(FSS_TEST):
        for n in range(1, 11):
            write_jpg(base / cat / f"{n}.jpg", seed=100 * ci + n)
            grey = np.zeros((8, 8), dtype=np.uint8)
            grey[:n % 7 + 1, :] = 200   # >= 128: foreground
            grey[7, :] = 127            # just below the threshold: background
            write_label_png(base / cat / f"{n}.png", grey, palette=False)
    return tmp_path / "data", tmp_path / "splits"


def test_fss_plan_follows_protocol(fss_tree):
    datapath, splits = fss_tree
    ds = FssDataset(datapath, splits, split="test", shot=5, seed=0)
    cats = sorted(FSS_TEST)
    numeric_string_order = sorted(str(n) for n in range(1, 11))  # 1, 10, 2, ..., 9
    expected_queries = [f"{c}/{n}.jpg" for c in cats for n in numeric_string_order]
    assert len(ds) == len(expected_queries) == 50
    assert ds.class_ids == list(range(760, 765)) and ds.nclass == 1000
    refs = ds.refs()
    assert [r.query_name for r in refs] == expected_queries
    rng = np.random.RandomState(0)
    for ref in refs:
        cat = ref.query_name.split("/")[0]
        assert ref.class_id == 760 + cats.index(cat)
        expected = []
        while len(expected) < 5:
            n = rng.choice(range(1, 11), 1, replace=False)[0]
            if f"{cat}/{n}.jpg" != ref.query_name:
                expected.append(f"{cat}/{n}.jpg")
        assert ref.support_names == tuple(expected)
    assert refs == FssDataset(datapath, splits, "test", 5, seed=0).refs()
    assert refs != FssDataset(datapath, splits, "test", 5, seed=3).refs()


def test_fss_masks_threshold_at_128(fss_tree):
    datapath, splits = fss_tree
    ds = FssDataset(datapath, splits, "test", shot=1, seed=0)
    ep = ds.episode(0)  # bus/1.jpg's first support
    ep.check()
    for name, mask in [(ep.query_name, ep.query_mask)] + list(zip(ep.support_names,
                                                                   ep.support_masks)):
        n = int(name.split("/")[1].split(".")[0])
        assert mask.sum() == 8 * (n % 7 + 1)
        assert not mask[7].any()


def test_fss_errors(fss_tree, tmp_path):
    datapath, splits = fss_tree
    with pytest.raises(UserError, match="val.txt"):
        FssDataset(datapath, splits, "val")
    ds = FssDataset(datapath, splits, "test")
    (datapath / "FSS-1000" / "abe's_flyingfish" / "1.png").unlink()
    with pytest.raises(UserError, match="missing file.*abe's_flyingfish/1.png"):
        ds.episode(0)
    import shutil
    shutil.rmtree(datapath / "FSS-1000" / "bus")
    with pytest.raises(UserError, match="class folder.*bus"):
        FssDataset(datapath, splits, "test")


def test_open_dataset(pascal_tree, tmp_path):
    datapath, splits = pascal_tree
    ds = open_dataset("pascal", datapath, splits, fold=0, split="test", shot=1, seed=0)
    assert isinstance(ds, PascalDataset) and len(ds) == 1000
    with pytest.raises(UserError, match="unknown benchmark"):
        open_dataset("voc", datapath, splits)
    with pytest.raises(UserError, match="splits_dir"):
        open_dataset("coco", datapath)
    syn = open_dataset("synthetic", split="test", n_episodes=3)
    assert len(syn) == 3 and syn.split == "test"


# -- the real official split lists, when this machine has them ---------------------------

OFFICIAL_SPLITS = Path(os.environ.get("HSNET_SPLITS", "/work/shared/hsnet-splits"))
needs_official = pytest.mark.skipif(not (OFFICIAL_SPLITS / "pascal").is_dir(),
                                    reason="official split lists not on this machine")


@needs_official
@pytest.mark.parametrize("fold", [0, 1, 2, 3])
def test_official_pascal_plans(tmp_path, fold):
    """All 1000 test episodes of every fold (plans only: no image is read)."""
    (tmp_path / "VOC2012" / "JPEGImages").mkdir(parents=True)
    (tmp_path / "VOC2012" / "SegmentationClassAug").mkdir()
    lines = (OFFICIAL_SPLITS / "pascal" / "val" / f"fold{fold}.txt").read_text().split()
    for shot in (1, 5):
        ds = PascalDataset(tmp_path, OFFICIAL_SPLITS, fold, "test", shot, seed=0)
        assert as_tuples(ds.refs()) == naive_pascal_plan(lines, shot, 0, 1000)


@needs_official
def test_official_coco_plans(tmp_path):
    (tmp_path / "COCO2014").mkdir()
    for fold in range(4):
        with open(OFFICIAL_SPLITS / "coco" / "val" / f"fold{fold}.pkl", "rb") as f:
            classwise = pickle.load(f)
        ds = CocoDataset(tmp_path, OFFICIAL_SPLITS, fold, "test", shot=1, seed=0)
        expected = naive_coco_plan(classwise, ds.class_ids, 1, 0, 200 if fold else 1000)
        assert as_tuples(ds.refs()[:len(expected)]) == expected


@needs_official
def test_official_fss_plan(tmp_path):
    """2400 test episodes over the 240 official test classes (empty files stand in)."""
    cats = [c for c in (OFFICIAL_SPLITS / "fss" / "test.txt").read_text().split("\n") if c]
    for cat in cats:
        (tmp_path / "FSS-1000" / cat).mkdir(parents=True)
        for n in range(1, 11):
            (tmp_path / "FSS-1000" / cat / f"{n}.jpg").touch()
            (tmp_path / "FSS-1000" / cat / f"{n}.png").touch()
    ds = FssDataset(tmp_path, OFFICIAL_SPLITS, "test", shot=1, seed=0)
    assert len(ds) == 2400 and ds.class_ids == list(range(760, 1000))
    refs = ds.refs()
    rng = np.random.RandomState(0)
    for n, ref in enumerate(refs):
        cat = sorted(cats)[n // 10]
        assert ref.query_name == f"{cat}/{sorted(str(i) for i in range(1, 11))[n % 10]}.jpg"
        while True:
            s = rng.choice(range(1, 11), 1, replace=False)[0]
            if f"{cat}/{s}.jpg" != ref.query_name:
                break
        assert ref.support_names == (f"{cat}/{s}.jpg",)
