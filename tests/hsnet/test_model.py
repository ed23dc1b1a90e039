"""The PyTorch HSNet: shapes, parameter counts, center-pivot conv, vote, checkpoints."""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")
from conftest import random_episode  # noqa: E402
from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.hsnet import (  # noqa: E402
    CenterPivotConv4d,
    HSNet,
    load_hsnet,
    randomize_for_testing,
)
from hsnet_deploy.hsnet.checkpoint import save_official_checkpoint  # noqa: E402
from hsnet_deploy.hsnet.grid_layout import LAYOUTS, NATIVE, convert  # noqa: E402
from hsnet_deploy.hsnet.mask_resize import resize_masks  # noqa: E402
from hsnet_deploy.runtime.kshot_vote import kshot_vote_torch as kshot_vote  # noqa: E402
from torch.nn import functional as F  # noqa: E402

# ---------------------------------------------------------------- shapes and parameters

# docs/protocol.md, "Architecture" (paper Tables A5-A7): learnable parameters per learner block.
PAPER_COUNTS = {
    "resnet50": (167_584, 171_520, 202_688, 886_272, 886_272, 221_376 + 38_082, 2_573_794),
    "resnet101": (167_584, 185_120, 202_688, 886_272, 886_272, 221_376 + 38_082, 2_587_394),
    "vgg16": (167_008, 169_120, 201_888, 886_272, 886_272, 221_376 + 38_082, 2_570_018),
}


@pytest.mark.parametrize("backbone", ["vgg16", "resnet50", "resnet101"])
def test_learnable_parameter_counts_match_paper(backbone):
    counts = HSNet(backbone).learnable_parameter_counts()
    got = (
        counts["encoder_layer4"], counts["encoder_layer3"], counts["encoder_layer2"],
        counts["encoder_layer4to3"], counts["encoder_layer3to2"],
        counts["decoder1"] + counts["decoder2"], counts["total"],
    )
    assert got == PAPER_COUNTS[backbone]


@pytest.mark.parametrize("backbone", ["vgg16", "resnet50", "resnet101"])
def test_output_shapes_small(backbone, random_hsnet):
    model = random_hsnet(backbone)
    q, s, m = random_episode(2, 3, 96)
    with torch.no_grad():
        logits = model(q, s, m)
    assert logits.shape == (2, 3, 2, 96, 96)
    assert torch.isfinite(logits).all()
    mask = model.predict_mask(q, s, m)
    assert mask.shape == (2, 96, 96) and set(mask.unique().tolist()) <= {0, 1}


def test_resnet50_pyramid_at_400(random_hsnet):
    model = random_hsnet("resnet50")
    q, s, m = random_episode(1, 1, 400)
    with torch.no_grad():
        c3, c2, c1 = model.encode_support(s, m)
        assert c3.shape == (1, 1, 3, 2048, 13, 13)
        assert c2.shape == (1, 1, 6, 1024, 25, 25)
        assert c1.shape == (1, 1, 4, 512, 50, 50)
        assert model(q, s, m).shape == (1, 1, 2, 400, 400)


def test_invalid_image_size_is_a_clear_error(random_hsnet):
    from hsnet_deploy.runtime.image_size import check_image_size, squeezed_support_sizes

    for backbone in ("vgg16", "resnet50", "resnet101"):
        for size in (96, 128, 384, 400):
            check_image_size(size, size, backbone)
    with pytest.raises(UserError, match="too small"):
        check_image_size(16, 16, "vgg16")  # pool5 would be 0x0
    # ResNet rounds up at every stride, so nested ceilings always agree (ceil(H/256) thrice);
    # VGG's max-pools round down, so some sizes fail. Find one rather than assume it.
    assert all(len(set(squeezed_support_sizes(n, "resnet50"))) == 1 for n in range(32, 2000))
    failing = next(n for n in range(32, 2000) if len(set(squeezed_support_sizes(n, "vgg16"))) > 1)
    q, s, m = random_episode(1, 1, failing)
    with pytest.raises(UserError, match="valid HSNet pyramid"):
        random_hsnet("vgg16")(q, s, m)
    with pytest.raises(UserError, match="valid HSNet pyramid"):
        check_image_size(128, failing, "vgg16")  # width checked too


def test_backbone_frozen_and_eval_while_learner_trains():
    model = HSNet("resnet50")
    model.train()
    assert model.hpn_learner.training
    assert not model.backbone.training
    assert not any(m.training for m in model.backbone.modules())
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.hpn_learner.parameters())


# ---------------------------------------------------------------- center-pivot conv


def dense_4d_conv(x, weight, bias, support_stride):
    """Slow reference: a dense 4D convolution, padding k//2 on all four dims, stride
    (1, 1, s, s). x (B, C, Ha, Wa, Hb, Wb), weight (O, C, k, k, k, k)."""
    b, c, ha, wa, hb, wb = x.shape
    o, _, k = weight.shape[:3]
    p, s = k // 2, support_stride
    hb2, wb2 = (hb - 1) // s + 1, (wb - 1) // s + 1
    xp = F.pad(x, (p, p, p, p, p, p, p, p))
    out = torch.zeros(b, o, ha, wa, hb2, wb2, dtype=x.dtype)
    for u1, u2, v1, v2 in itertools.product(range(k), repeat=4):
        patch = xp[:, :, u1 : u1 + ha, u2 : u2 + wa, v1 : v1 + s * (hb2 - 1) + 1 : s, v2 : v2 + s * (wb2 - 1) + 1 : s]
        out += torch.einsum("oc,bcxyzw->boxyzw", weight[:, :, u1, u2, v1, v2], patch)
    return out + bias.view(1, o, 1, 1, 1, 1)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kernel,stride", [(3, 1), (3, 2), (3, 4), (5, 1), (5, 2), (5, 4)])
@pytest.mark.parametrize("support", [(9, 7), (2, 3), (3, 3)])  # M > k² and M <= k² (the 1x1 support matrix in QUERY_GRIDS)
def test_center_pivot_equals_dense_4d_conv_on_the_cross(kernel, stride, support, layout):
    torch.manual_seed(kernel * 10 + stride)
    conv = CenterPivotConv4d(3, 4, kernel, stride).double()
    x = torch.randn(2, 3, 5, 6, *support, dtype=torch.float64)
    c = kernel // 2
    dense = torch.zeros(4, 3, kernel, kernel, kernel, kernel, dtype=torch.float64)
    dense[:, :, :, :, c, c] += conv.conv1.weight.detach()  # query-dims taps, support offset 0
    dense[:, :, c, c, :, :] += conv.conv2.weight.detach()  # support-dims taps, query offset 0
    bias = (conv.conv1.bias + conv.conv2.bias).detach()
    expected = dense_4d_conv(x, dense, bias, stride)
    got = convert(conv(convert(x, NATIVE, layout), layout), layout, NATIVE)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def test_center_pivot_export_friendly_no_state():
    conv = CenterPivotConv4d(2, 3, 3, 2)
    before = dict(conv.__dict__)
    conv(torch.randn(1, 2, 4, 4, 6, 6))
    conv(torch.randn(1, 2, 4, 4, 8, 8))  # another support size: nothing cached from the first call
    assert conv.__dict__.keys() == before.keys()


# ---------------------------------------------------------------- K-shot vote


def logits_from_votes(votes):
    """votes (B, K, H, W) in {0,1} -> logits whose argmax is that vote."""
    votes = torch.as_tensor(votes, dtype=torch.float32)
    return torch.stack([1 - votes, votes], dim=2)


def test_kshot_vote_majority_of_the_max_vote():
    # 4 shots; per-pixel vote counts 0, 1, 2, 3 -> max vote 3, foreground where v/3 >= 0.5: v >= 2
    per_shot = [[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]]  # shot k's vote for pixels 0..3
    votes = torch.tensor(per_shot).reshape(1, 4, 1, 4)
    mask = kshot_vote(logits_from_votes(votes))
    assert mask.tolist() == [[[0, 0, 1, 1]]]


def test_kshot_vote_when_no_pixel_gets_a_majority():
    # 4 shots each marking a different pixel: max vote 1, so every voted pixel wins
    votes = torch.eye(4).reshape(1, 4, 1, 4)
    assert kshot_vote(logits_from_votes(votes)).tolist() == [[[1, 1, 1, 1]]]
    # nobody votes: max vote clamps to 1, nothing is foreground
    assert kshot_vote(logits_from_votes(torch.zeros(1, 3, 2, 2))).sum() == 0


def test_kshot_vote_ties_go_to_background_and_images_are_independent():
    logits = torch.zeros(2, 1, 2, 1, 2)  # equal logits: argmax picks background
    logits[1, 0, 1, 0, 1] = 1.0
    assert kshot_vote(logits).tolist() == [[[0, 0]], [[0, 1]]]


def official_style_vote(per_shot_logits):
    """The official loop: sum the argmaxes, divide by the per-image max vote (>= 1), >= 0.5."""
    agg = sum(logit.argmax(dim=1) for logit in per_shot_logits)  # (B, H, W)
    max_vote = agg.flatten(1).max(dim=1).values.clamp(min=1).view(-1, 1, 1)
    pred = agg.float() / max_vote
    return (pred >= 0.5).long()


def test_batched_kshot_equals_separate_one_shot_predictions(random_hsnet):
    model = random_hsnet("resnet50")
    q, s, m = random_episode(2, 5, 96, seed=3)
    with torch.no_grad():
        batched = model(q, s, m)
        separate = [model(q, s[:, i : i + 1], m[:, i : i + 1])[:, 0] for i in range(5)]
    torch.testing.assert_close(batched, torch.stack(separate, dim=1), rtol=1e-4, atol=1e-5)
    assert torch.equal(model.predict_mask(q, s, m), official_style_vote(separate))


# ---------------------------------------------------------------- the straightforward path


def straightforward_logits(model, query, support, mask):
    """HSNet written the plain way, one shot at a time: F.interpolate for the masks, one
    bmm per layer, CP conv pruning with an index tensor. Our model restructures all of
    these (matrix mask resize, batched K, stacked matmul, strided slice)."""
    feats_q = model.backbone.hypercolumn_features(query)
    feats_s = model.backbone.hypercolumn_features(support)
    corrs = []
    for fq, fs in zip(feats_q, feats_s):
        m = F.interpolate(mask.unsqueeze(1), fs.shape[-2:], mode="bilinear", align_corners=True)
        fs = fs * m
        b, c, ha, wa = fq.shape
        hb, wb = fs.shape[-2:]
        fq = fq.view(b, c, -1)
        fs = fs.view(b, c, -1)
        fq = fq / (fq.norm(dim=1, keepdim=True) + 1e-5)
        fs = fs / (fs.norm(dim=1, keepdim=True) + 1e-5)
        corrs.append(torch.bmm(fq.transpose(1, 2), fs).view(b, ha, wa, hb, wb).clamp(min=0))
    n1, n2, _ = model.spec.layers_per_level
    levels = [torch.stack(corrs[n1 + n2 :], 1), torch.stack(corrs[n1 : n1 + n2], 1), torch.stack(corrs[:n1], 1)]

    def cp(conv, x):
        b, c, ha, wa, hb, wb = x.shape
        s = conv.support_stride
        idx = (torch.arange(0, wb, s).repeat(len(range(0, hb, s)), 1) + (torch.arange(0, hb, s) * wb).view(-1, 1)).view(-1)
        pruned = x.reshape(b, c, ha, wa, -1).index_select(4, idx).view(b, c, ha, wa, len(range(0, hb, s)), -1)
        _, _, _, _, hb2, wb2 = pruned.shape
        y1 = conv.conv1(pruned.permute(0, 4, 5, 1, 2, 3).reshape(-1, c, ha, wa))
        y1 = y1.view(b, hb2, wb2, -1, ha, wa).permute(0, 3, 4, 5, 1, 2)
        y2 = conv.conv2(x.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, hb, wb))
        y2 = y2.view(b, ha, wa, -1, hb2, wb2).permute(0, 3, 1, 2, 4, 5)
        return y1 + y2

    def block(seq, x):
        for layer in seq:
            x = cp(layer, x) if isinstance(layer, CenterPivotConv4d) else layer(x)
        return x

    def up(x, size):
        b, c, ha, wa, hb, wb = x.shape
        y = F.interpolate(x.permute(0, 4, 5, 1, 2, 3).reshape(-1, c, ha, wa), size, mode="bilinear", align_corners=True)
        return y.view(b, hb, wb, c, *size).permute(0, 3, 4, 5, 1, 2)

    learner = model.hpn_learner
    s3, s2, s1 = block(learner.encoder_layer4, levels[0]), block(learner.encoder_layer3, levels[1]), block(learner.encoder_layer2, levels[2])
    mix = block(learner.encoder_layer4to3, up(s3, s2.shape[2:4]) + s2)
    mix = block(learner.encoder_layer3to2, up(mix, s1.shape[2:4]) + s1)
    enc = mix.flatten(-2).mean(-1)
    dec = learner.decoder1(enc)
    dec = F.interpolate(dec, (dec.shape[-1] * 2,) * 2, mode="bilinear", align_corners=True)
    logits = learner.decoder2(dec)
    return F.interpolate(logits, query.shape[-2:], mode="bilinear", align_corners=True)


@pytest.mark.slow
@pytest.mark.parametrize("backbone,size", [("vgg16", 128), ("resnet50", 400)])
def test_model_equals_straightforward_formulation(backbone, size, random_hsnet):
    model = random_hsnet(backbone, seed=5)
    q, s, m = random_episode(1, 2, size, seed=7)
    with torch.no_grad():
        ours = model(q, s, m)
        for shot in range(2):
            ref = straightforward_logits(model, q, s[:, shot], m[:, shot])
            scale = ref.abs().max()
            assert (ours[:, shot] - ref).abs().max() <= 1e-4 * scale


def test_mask_resize_reproduces_pytorch_exact_zeros_at_400():
    """The parity trap (docs/protocol.md): positions exactly 0 in PyTorch's bilinear resize must be
    exactly 0 here, and tiny non-zero weights must stay non-zero."""
    _, _, masks = random_episode(1, 4, 400, seed=11)
    noise = (torch.rand(2, 400, 400, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    masks = torch.cat([masks[0], noise])  # ragged blobs and noise, (6, 400, 400)
    tiny_seen = 0
    for size in (50, 25, 13, 12):
        ref = F.interpolate(masks.unsqueeze(1), (size, size), mode="bilinear", align_corners=True)[:, 0]
        ours = resize_masks(masks, (size, size))
        assert torch.equal(ours == 0, ref == 0), size
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)
        tiny_seen += int(((ref > 0) & (ref < 1e-4)).sum())
    assert tiny_seen > 0  # the trap is present in this data: tiny weights exist and survive


# ---------------------------------------------------------------- checkpoints


@pytest.fixture(scope="module")
def r50_checkpoint(tmp_path_factory, random_hsnet):
    path = tmp_path_factory.mktemp("ckpt") / "best_model.pt"
    save_official_checkpoint(random_hsnet("resnet50", seed=2), path)
    return path


def test_official_checkpoint_round_trip_gives_identical_logits(r50_checkpoint, random_hsnet):
    state = torch.load(r50_checkpoint, weights_only=True)
    assert all(k.startswith("module.") for k in state)
    assert "module.hpn_learner.encoder_layer4.0.conv1.weight" in state and "module.backbone.fc.weight" in state
    loaded = load_hsnet(checkpoint=r50_checkpoint)  # backbone inferred
    assert loaded.backbone_name == "resnet50" and not loaded.training
    q, s, m = random_episode(1, 2, 96, seed=4)
    with torch.no_grad():
        assert torch.equal(loaded(q, s, m), random_hsnet("resnet50", seed=2)(q, s, m))


def test_learner_only_checkpoint_plus_torchvision_backbone_file(tmp_path, random_hsnet):
    model = random_hsnet("resnet50", seed=2)
    torch.save({k: v for k, v in model.hpn_learner.state_dict().items()}, tmp_path / "learner.pt")
    torch.save(model.backbone.state_dict(), tmp_path / "resnet50-0676ba61.pth")  # torchvision key names
    loaded = load_hsnet("resnet50", tmp_path / "learner.pt", tmp_path / "resnet50-0676ba61.pth")
    q, s, m = random_episode(1, 1, 96, seed=4)
    with torch.no_grad():
        assert torch.equal(loaded(q, s, m), model(q, s, m))
    with pytest.raises(UserError, match="only the learner.*--backbone-weights"):
        load_hsnet("resnet50", tmp_path / "learner.pt")


def test_a_vgg16_backbone_file_may_leave_out_the_classifier_hsnet_never_runs(tmp_path, random_hsnet):
    """Conv-only VGG16 weights (recipes/hed_vgg16.py writes such files) load, the classifier
    keeps its zeros, and the backbone fingerprint ignores it; a conv tensor missing still fails."""
    from hsnet_deploy.hsnet.training.seeded_model import backbone_fingerprint

    model = random_hsnet("vgg16", seed=3)
    convs = {k: v for k, v in model.backbone.state_dict().items() if k.startswith("features.")}
    torch.save(convs, tmp_path / "vgg16_convs.pt")
    loaded = load_hsnet("vgg16", backbone_weights=tmp_path / "vgg16_convs.pt")
    own = loaded.backbone.state_dict()
    assert all(torch.equal(own[k], v) for k, v in convs.items())
    assert all(not v.any() for k, v in own.items() if k.startswith("classifier."))
    with torch.no_grad():
        loaded.backbone.classifier[0].weight.fill_(1.0)
    assert backbone_fingerprint(loaded) == backbone_fingerprint(model)
    with torch.no_grad():
        loaded.backbone.features[0].weight.add_(1.0)
    assert backbone_fingerprint(loaded) != backbone_fingerprint(model)
    del convs["features.28.bias"]
    torch.save(convs, tmp_path / "vgg16_short.pt")
    with pytest.raises(UserError, match=r"missing \(e\.g\. features\.28\.bias"):
        load_hsnet("vgg16", backbone_weights=tmp_path / "vgg16_short.pt")


@pytest.mark.slow
def test_checkpoint_of_another_backbone_is_a_clear_error(tmp_path, random_hsnet):
    save_official_checkpoint(random_hsnet("vgg16"), tmp_path / "vgg.pt")
    with pytest.raises(UserError, match="holds a vgg16 HSNet, not resnet50"):
        load_hsnet("resnet50", tmp_path / "vgg.pt")
    # torchvision weights of the wrong backbone
    torch.save(random_hsnet("vgg16").backbone.state_dict(), tmp_path / "vgg16.pth")
    with pytest.raises(UserError, match=r"does not fit this model: .*missing \(e\.g\. conv1\.weight"):
        load_hsnet("resnet50", backbone_weights=tmp_path / "vgg16.pth")


def test_truncated_and_foreign_files_are_clear_errors(tmp_path, r50_checkpoint):
    data = r50_checkpoint.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="cannot read checkpoint .*truncated"):
        load_hsnet(checkpoint=tmp_path / "truncated.pt")
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    with pytest.raises(UserError, match="cannot read checkpoint"):
        load_hsnet(checkpoint=tmp_path / "notes.txt")
    torch.save({"linear.weight": torch.zeros(2, 2)}, tmp_path / "foreign.pt")
    with pytest.raises(UserError, match="not an HSNet checkpoint"):
        load_hsnet(checkpoint=tmp_path / "foreign.pt")
    with pytest.raises(UserError, match="not found"):
        load_hsnet(checkpoint=tmp_path / "missing.pt")
    with pytest.raises(UserError, match="never downloaded"):
        load_hsnet("resnet50", backbone_weights="imagenet")
    with pytest.raises(UserError, match="unknown backbone"):
        load_hsnet("resnet18")


def test_randomize_is_deterministic():
    a = randomize_for_testing(HSNet("resnet50"), 9).state_dict()
    b = randomize_for_testing(HSNet("resnet50"), 9).state_dict()
    c = randomize_for_testing(HSNet("resnet50"), 10).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["backbone.bn1.running_var"], c["backbone.bn1.running_var"])


def test_mask_resize_stays_float32_under_autocast():
    _, _, masks = random_episode(1, 2, 400, seed=11)
    ref = F.interpolate(masks[0].unsqueeze(1), (50, 50), mode="bilinear", align_corners=True)[:, 0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = resize_masks(masks[0].to(torch.bfloat16), (50, 50))
    assert ours.dtype == torch.float32
    assert torch.equal(ours == 0, ref == 0)


def test_mask_resize_on_the_meta_device():
    """Shape-only runs (FLOP counting) go through the same code."""
    out = resize_masks(torch.zeros(2, 400, 400, device="meta"), (50, 50))
    assert out.shape == (2, 50, 50) and out.device.type == "meta"
