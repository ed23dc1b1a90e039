"""Tiny stand-in ONNX graphs with the contract's I/O names, shapes and metadata.

Until the real exporter lands, the runtime is tested against these. They compute a
simple function whose numpy reference is below, so every test can check values:

    fg[b, k]  = mean_c query_img[b, c] + GAIN * mean_{c,y,x}(support_imgs[b, k] * support_masks[b, k])
    logits[b, k] = (-fg[b, k], fg[b, k])                    (B, K, 2, S, S)
    mask[b]   = any_k(fg[b, k] > -fg[b, k])   (a stand-in; the runtime votes itself)

Split graphs: the support encoder emits s = GAIN * mean(...) as support_c3 = c2 = c1,
each (B, K, 1, 1, 1, 1); the query graph adds c3 + (c2 - c1) to the query mean, so split
and episode graphs agree exactly. Other test modules import the builders from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

GAIN = 5.0
OPSET = 17


def _metadata(kind: str, img_size: int, shots: Union[int, str], overrides: Optional[dict] = None) -> dict:
    """Contract metadata; ``overrides`` replaces keys (a value of None removes the key)."""
    meta = {
        "hsnet_deploy.graph": kind,
        "hsnet_deploy.backbone": "fake",
        "hsnet_deploy.img_size": str(img_size),
        "hsnet_deploy.shots": str(shots),
        "hsnet_deploy.opset": str(OPSET),
        "hsnet_deploy.checkpoint_sha256": "random",
        "hsnet_deploy.version": "test",
    }
    for key, value in (overrides or {}).items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = str(value)
    return meta


def _k_dim(shots: Union[int, str]):
    return "shots" if shots == "dynamic" else int(shots)


def _value(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def _support_nodes(out: str) -> tuple[list, list]:
    """Nodes computing ``out`` = GAIN * mean(support_imgs * support_masks) -> (B, K, 1, 1, 1)."""
    inits = [
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
        numpy_helper.from_array(np.array(GAIN, dtype=np.float32), "gain"),
    ]
    nodes = [
        helper.make_node("Unsqueeze", ["support_masks", "axis2"], ["masks5"]),  # (B, K, 1, S, S)
        helper.make_node("Mul", ["support_imgs", "masks5"], ["masked"]),  # (B, K, 3, S, S)
        helper.make_node("ReduceMean", ["masked"], ["masked_mean"], axes=[2, 3, 4], keepdims=1),
        helper.make_node("Mul", ["masked_mean", "gain"], [out]),  # (B, K, 1, 1, 1)
    ]
    return nodes, inits


def _head_nodes(support_term: str) -> tuple[list, list]:
    """Nodes from query_img and a (B, K, 1, 1, 1) support term to logits and mask."""
    inits = [numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")]
    nodes = [
        helper.make_node("ReduceMean", ["query_img"], ["query_mean"], axes=[1], keepdims=1),  # (B,1,S,S)
        helper.make_node("Unsqueeze", ["query_mean", "axis1"], ["query5"]),  # (B, 1, 1, S, S)
        helper.make_node("Add", ["query5", support_term], ["fg"]),  # (B, K, 1, S, S)
        helper.make_node("Neg", ["fg"], ["bg"]),
        helper.make_node("Concat", ["bg", "fg"], ["logits"], axis=2),  # (B, K, 2, S, S)
        helper.make_node("Greater", ["fg", "bg"], ["fg_wins"]),
        helper.make_node("Cast", ["fg_wins"], ["fg_float"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMax", ["fg_float"], ["any_fg"], axes=[1, 2], keepdims=0),  # (B, S, S)
        helper.make_node("Cast", ["any_fg"], ["mask"], to=TensorProto.UINT8),
    ]
    return nodes, inits


def _save(nodes, inits, inputs, outputs, meta: Optional[dict], path: Path) -> Path:
    graph = helper.make_graph(nodes, "fake_hsnet", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    if meta:
        helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)


def make_episode_graph(
    path, img_size: int = 16, shots: Union[int, str] = "dynamic", with_metadata: bool = True, overrides: Optional[dict] = None
) -> Path:
    """Write a fake episode graph (``with_metadata=False``: a foreign graph with none)."""
    s, k = img_size, _k_dim(shots)
    nodes, inits = _support_nodes("support_term")
    head, head_inits = _head_nodes("support_term")
    inputs = [
        _value("query_img", TensorProto.FLOAT, ["batch", 3, s, s]),
        _value("support_imgs", TensorProto.FLOAT, ["batch", k, 3, s, s]),
        _value("support_masks", TensorProto.FLOAT, ["batch", k, s, s]),
    ]
    outputs = [
        _value("logits", TensorProto.FLOAT, ["batch", k, 2, s, s]),
        _value("mask", TensorProto.UINT8, ["batch", s, s]),
    ]
    meta = _metadata("episode", img_size, shots, overrides) if with_metadata else None
    return _save(nodes + head, inits + head_inits, inputs, outputs, meta, path)


def make_split_graphs(episode_path, img_size: int = 16, shots: Union[int, str] = "dynamic", query_overrides: Optional[dict] = None) -> tuple[Path, Path]:
    """Write NAME.support.onnx and NAME.query.onnx beside ``episode_path`` (NAME.onnx)."""
    episode_path = Path(episode_path)
    stem = episode_path.name[: -len(".onnx")]
    s, k = img_size, _k_dim(shots)
    feature_shape = ["batch", k, 1, 1, 1, 1]
    # Support encoder.
    nodes, inits = _support_nodes("support_term")
    inits.append(numpy_helper.from_array(np.array([5], dtype=np.int64), "axis5"))
    nodes += [
        helper.make_node("Unsqueeze", ["support_term", "axis5"], ["support_c3"]),
        helper.make_node("Identity", ["support_c3"], ["support_c2"]),
        helper.make_node("Identity", ["support_c3"], ["support_c1"]),
    ]
    support = _save(
        nodes, inits,
        [_value("support_imgs", TensorProto.FLOAT, ["batch", k, 3, s, s]),
         _value("support_masks", TensorProto.FLOAT, ["batch", k, s, s])],
        [_value(n, TensorProto.FLOAT, feature_shape) for n in ("support_c3", "support_c2", "support_c1")],
        _metadata("support_encoder", img_size, shots),
        episode_path.with_name(f"{stem}.support.onnx"),
    )
    # Query graph.
    head, head_inits = _head_nodes("support_term")
    head_inits.append(numpy_helper.from_array(np.array([5], dtype=np.int64), "axis5"))
    nodes = [
        helper.make_node("Sub", ["support_c2", "support_c1"], ["zero"]),
        helper.make_node("Add", ["support_c3", "zero"], ["c_sum"]),
        helper.make_node("Squeeze", ["c_sum", "axis5"], ["support_term"]),  # (B, K, 1, 1, 1)
    ] + head
    query = _save(
        nodes, head_inits,
        [_value("query_img", TensorProto.FLOAT, ["batch", 3, s, s])]
        + [_value(n, TensorProto.FLOAT, feature_shape) for n in ("support_c3", "support_c2", "support_c1")],
        [_value("logits", TensorProto.FLOAT, ["batch", k, 2, s, s]), _value("mask", TensorProto.UINT8, ["batch", s, s])],
        _metadata("query", img_size, shots, query_overrides),
        episode_path.with_name(f"{stem}.query.onnx"),
    )
    return support, query


def reference_logits(query_img: np.ndarray, support_imgs: np.ndarray, support_masks: np.ndarray) -> np.ndarray:
    """What the fake graphs compute, in numpy: (B,3,S,S), (B,K,3,S,S), (B,K,S,S) -> (B,K,2,S,S)."""
    query_mean = query_img.mean(axis=1, dtype=np.float64)[:, None, None]  # (B, 1, 1, S, S)
    term = GAIN * (support_imgs * support_masks[:, :, None]).mean(axis=(2, 3, 4), dtype=np.float64)
    fg = query_mean + term[:, :, None, None, None]  # (B, K, 1, S, S)
    return np.concatenate([-fg, fg], axis=2).astype(np.float32)


# ---- the fakes themselves -----------------------------------------------------------------


def random_feeds(b: int, k: int, size: int, seed: int = 0) -> dict:
    """Episode-graph feeds: random images and random binary masks, B episodes of K shots."""
    rng = np.random.default_rng(seed)
    return {
        "query_img": rng.standard_normal((b, 3, size, size)).astype(np.float32),
        "support_imgs": rng.standard_normal((b, k, 3, size, size)).astype(np.float32),
        "support_masks": (rng.random((b, k, size, size)) > 0.5).astype(np.float32),
    }


def make_split_export(folder, img_size: int = 16, name: str = "m.onnx") -> Path:
    """A whole fake export in ``folder`` (made if missing): NAME.onnx and its split pair."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    episode = make_episode_graph(folder / name, img_size=img_size)
    make_split_graphs(episode, img_size=img_size)
    return episode
