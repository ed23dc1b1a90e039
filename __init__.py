"""hsnet-deploy: export, compile and run HSNet few-shot segmentation.

Subpackages (the design card's folders):

- ``hsnet_deploy.hsnet``: the PyTorch HSNet (backbones, center-pivot 4D conv, learner).
- ``hsnet_deploy.export``: TensorRT-ready ONNX export and checks.
- ``hsnet_deploy.calibration``: INT8 (explicit Q/DQ) calibration.
- ``hsnet_deploy.runtime``: torch-free per-episode inference behind one Runner interface.
- ``hsnet_deploy.benchmarks``: latency profiling.

Importing this package imports neither torch nor onnxruntime.
"""

__version__ = "0.1.0"
