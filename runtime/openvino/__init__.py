"""The OpenVINO backend: the same ONNX files (FP32, FP16, INT8 Q/DQ) on Intel's runtime.

Loader (:mod:`.loader`: device, threads, numerics, compiled-model cache) and runner
(:mod:`.runner`), as for every backend. Torch-free; ``openvino`` is imported only when a
loader is called (the ``openvino`` extra).
"""
