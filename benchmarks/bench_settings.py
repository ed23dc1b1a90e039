"""What one ``hsnet-deploy bench`` run is asked to do (the command's options, checked)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..errors import UserError
from .configurations import CACHED_MODE, EPISODE_MODE

MODES = ("all", EPISODE_MODE, CACHED_MODE)
DEVICES = ("auto", "cpu", "cuda")


def wants_episode(mode: str) -> bool:
    """Whole-episode configurations (the episode graph, batched-K torch) in ``mode``?"""
    return mode in ("all", EPISODE_MODE)


def wants_cached(mode: str) -> bool:
    """Cached-support configurations (the split graphs, torch encode_support) in ``mode``?"""
    return mode in ("all", CACHED_MODE)


@dataclass
class BenchSettings:
    models: list = field(default_factory=list)  # MODEL arguments; empty: random torch + its ONNX export
    backbone: Optional[str] = None
    img_size: Optional[int] = None
    shots: tuple = (1,)
    mode: str = "all"
    iters: int = 10
    warmup: int = 2
    stage_iters: int = 3
    device: str = "auto"
    seed: int = 0
    threads: Optional[int] = None  # CPU threads for PyTorch and onnxruntime; None: their defaults
    progress: bool = True
    onnx_backends: tuple = ("onnxruntime",)  # runtimes for the .onnx configurations, side by side

    def check(self) -> None:
        if self.mode not in MODES:
            raise UserError(f"unknown mode '{self.mode}' (expected one of {', '.join(MODES)})")
        if self.device not in DEVICES:
            raise UserError(f"unknown device '{self.device}' (expected one of {', '.join(DEVICES)})")
        if self.iters < 1:
            raise UserError(f"--iters must be at least 1, got {self.iters}")
        for name in ("warmup", "stage_iters"):
            if getattr(self, name) < 0:
                raise UserError(f"--{name.replace('_', '-')} must not be negative, got {getattr(self, name)}")
        if not self.shots or any(int(k) < 1 for k in self.shots):
            raise UserError(f"--shots must be positive integers, got {','.join(map(str, self.shots))}")
        if self.threads is not None and self.threads < 1:
            raise UserError(f"--threads must be at least 1, got {self.threads}")
        if self.img_size is not None and self.img_size < 1:
            raise UserError(f"--img-size must be positive, got {self.img_size}")
        from ..runtime.backends import ONNX_BACKENDS

        unknown = [b for b in self.onnx_backends if b not in ONNX_BACKENDS]
        if unknown or not self.onnx_backends or len(set(self.onnx_backends)) != len(self.onnx_backends):
            raise UserError(f"--onnx-backends must name each of {', '.join(ONNX_BACKENDS)} at most once, "
                            f"got {','.join(self.onnx_backends)}")
