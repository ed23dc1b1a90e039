"""hsnet_deploy.runtime: torch-free few-shot segmentation on ONNX Runtime / TensorRT.

    from hsnet_deploy.runtime import Segmenter
    with Segmenter.load("hsnet.onnx") as seg:
        mask = seg.segment("query.jpg", ["support.jpg"], ["support.png"])

Pieces (one idea per module):

- ``images``: ``load_image``, ``load_mask`` (binarisation rule), ``as_image``, ``as_mask``
- ``preprocess``: ``preprocess_image``, ``preprocess_mask`` (the official pipeline)
- ``resize``: ``resize_logits`` / ``resize_bilinear_align_corners`` (PyTorch-exact)
- ``kshot_vote``, ``postprocess``, ``overlay``
- ``graph_contract``: the one graph contract (kinds, I/O names, dims, dtypes, every
  metadata key, split-file naming) that export, check, runners and benchmarks read
- ``loaders``: ONNX sessions, TensorRT engines, torch models from a path or from memory,
  with their options; ``tensor_types``: element types across backends
- ``runner``: the ``Runner`` interface; one sub-package per backend, each a loader and a
  runner: ``onnxruntime/`` (+ ``tensorrt_ep``), ``tensorrt/`` (+ builder, profiles,
  trtexec line, sidecar, timing, device memory), ``pytorch/`` (the model reached through
  ``model_source``, a registry)
- ``model_files``: path -> backend and graph files; ``backends``: the one factory,
  model + ``RuntimeOptions`` -> loaders -> runners
- ``segmenter``: the ``Segmenter``, the one inference path; ``command``: ``hsnet-deploy run``

Importing this package needs only numpy and PIL: onnxruntime, tensorrt and torch are
imported by the runners that use them, when they are activated.
"""

from .backends import RuntimeOptions, open_runners
from .graph_contract import GraphInfo
from .images import load_image, load_mask
from .kshot_vote import kshot_vote
from .overlay import overlay
from .postprocess import postprocess
from .preprocess import preprocess_image, preprocess_mask, preprocess_support
from .resize import resize_bilinear_align_corners, resize_logits
from .runner import Runner, TensorSpec
from .segmenter import Segmenter

__all__ = [
    "GraphInfo",
    "Runner",
    "RuntimeOptions",
    "Segmenter",
    "TensorSpec",
    "kshot_vote",
    "load_image",
    "load_mask",
    "open_runners",
    "overlay",
    "postprocess",
    "preprocess_image",
    "preprocess_mask",
    "preprocess_support",
    "resize_bilinear_align_corners",
    "resize_logits",
]
