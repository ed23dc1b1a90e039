"""Scoring few-shot segmentation the official way, on any backend (``hsnet-deploy eval``).

- :mod:`.metrics`: the official mIoU / FB-IoU accumulator (ignore label 255, per-class sums);
- :mod:`.episode_grid`: supports, query, prediction and truth as one PNG;
- :mod:`.evaluate`: the loop over a dataset's episodes through the runtime's ``Segmenter``
  (so .pt, .onnx and .engine files are scored on the same episodes);
- :mod:`.command`: the command line.

Importing this package needs neither torch nor onnxruntime.
"""
