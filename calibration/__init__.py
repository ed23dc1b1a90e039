"""What needs episodes: INT8 calibration feeds and per-group INT8 sensitivity.

    from hsnet_deploy.calibration import CalibrationSource
    source = CalibrationSource("pascal", "VOC", "splits", fold=0, episodes=64)
    feeds = source.feeds("query", img_size=400, shots=1, support_encoder=encode)

- :mod:`calibration_episodes`: episodes of a dataset's *training* split through the
  runtime's pre-processing, as graph feeds; ``CalibrationSource`` is the feed source the
  export's precision pass (``hsnet_deploy.export.precision``) asks for INT8 ranges.
- :mod:`sensitivity`: each node group's mIoU cost when only it is INT8, scored on
  training-split episodes through ``Segmenter.from_models``; ``--int8-auto`` keeps the
  most sensitive groups in float32 until the INT8 gate holds (:mod:`sensitivity_chart`).
"""

from __future__ import annotations

from ..lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    calibration_episodes="CalibrationSource calibration_feeds", sensitivity="measure_sensitivity Int8Trials",
)
