"""Evaluation helpers that need neither torch nor onnxruntime: the official mIoU / FB-IoU
accumulator (:mod:`.metrics`) and the episode picture (:mod:`.episode_grid`)."""
