"""INT8 calibration (explicit Q/DQ ONNX for TensorRT 10/11): not implemented yet.

Planned (no open issue covers it yet): symmetric int8 QuantizeLinear/DequantizeLinear
pairs, zero-point 0, per-tensor activations and per-channel (axis 0) Conv weights, with
scales calibrated on episodes from ``hsnet_deploy.hsnet.data``; the mask-resize MatMuls,
L2 normalisation and GroupNorm statistics kept in FP32 (see ../shared/NOTES.md).
Nothing in this package is called by the toolkit today.
"""
