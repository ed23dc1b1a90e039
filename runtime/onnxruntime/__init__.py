"""The onnxruntime backend: loader (InferenceSession, providers, the TensorRT EP) and runner."""
