"""recipes/hed_vgg16.py: HED's Caffe-input VGG16 turned into a backbone for this toolkit's input."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from helpers import REPO

torch = pytest.importorskip("torch")


def _recipe():
    spec = importlib.util.spec_from_file_location("hed_vgg16", REPO / "recipes" / "hed_vgg16.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_folded_first_conv_on_normalised_rgb_equals_hed_on_caffe_bgr_inside_the_border():
    from hsnet_deploy.runtime.preprocess import IMAGENET_MEAN, IMAGENET_STD

    recipe = _recipe()
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(8, 3, 3, 3)), rng.normal(size=8)  # (O, BGR, 3, 3)
    image = rng.integers(0, 256, size=(1, 3, 12, 12)).astype(np.float64)  # RGB, 0-255
    caffe = image[:, ::-1] - recipe.CAFFE_MEAN_BGR[None, :, None, None]
    normalised = (image / 255 - IMAGENET_MEAN.astype(np.float64)[:, None, None]) / IMAGENET_STD.astype(np.float64)[:, None, None]

    def conv(x, w, b):
        return torch.nn.functional.conv2d(torch.tensor(x.copy()), torch.tensor(w), torch.tensor(b), padding=1).numpy()

    want = conv(caffe, kernel, bias)
    got = conv(normalised, *recipe.fold_input_convention(kernel, bias))
    assert np.abs(got - want)[..., 1:-1, 1:-1].max() < 1e-9 * np.abs(want).max()
    assert np.abs(got - want)[..., 0, :].max() > 1e-3  # the zero-padded border is where they differ
