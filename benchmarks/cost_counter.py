"""Count FLOPs and elements moved per stage by watching a model run.

Forward hooks on the model's Conv2d, Linear, GroupNorm and 4D-conv modules read the
actual input / output shapes and apply the formulas of :mod:`cost_formulas`; the
correlation (a matmul, not a module) is reported by the staged forward through
``count_correlation``. Run it on the ``meta`` device and nothing is computed at all:
shapes propagate, hooks fire, and the count of a 400x400 5-shot episode takes
milliseconds (:func:`count_costs`).

Also records which parameters the forward pass actually used, so a backbone's unused
classifier (kept only so weight files load) is not counted as model size.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Callable, Iterator

import torch
from torch import nn

from ..hsnet.center_pivot_conv import CenterPivotConv4d
from ..hsnet.grid_layout import NATIVE, native_dims
from .cost_formulas import (
    Cost,
    center_pivot_conv_cost,
    conv2d_cost,
    correlation_cost,
    linear_cost,
)
from .staged_forward import StageObserver

OUTSIDE = "outside any stage"


class CostCounter(StageObserver):
    """Attach to ``model``; run a staged pass with this as the observer; read ``per_stage``."""

    def __init__(self, model: nn.Module):
        self.per_stage: dict[str, Cost] = defaultdict(Cost)
        self.used_parameters: dict[int, int] = {}  # id(param) -> numel, for params of modules that ran
        self._current = OUTSIDE
        self._handles = []
        branches = {id(m) for cp in model.modules() if isinstance(cp, CenterPivotConv4d) for m in (cp.conv1, cp.conv2)}
        for module in model.modules():
            hook = None if id(module) in branches else self._hook_for(module)
            if hook is not None:
                self._handles.append(module.register_forward_hook(hook))
            self._handles.append(module.register_forward_hook(self._note_parameters))

    # ---- observer interface ----------------------------------------------------------
    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        previous, self._current = self._current, name
        try:
            yield
        finally:
            self._current = previous

    def count_correlation(self, query: torch.Tensor, support: torch.Tensor) -> None:
        b, layers, ch, ha, wa = query.shape
        shots = support.shape[1]
        self.add(correlation_cost(b, shots, layers, ch, (ha, wa), tuple(support.shape[-2:])))

    # ---- bookkeeping -----------------------------------------------------------------
    def add(self, cost: Cost) -> None:
        self.per_stage[self._current] = self.per_stage[self._current] + cost

    @property
    def total(self) -> Cost:
        return sum(self.per_stage.values(), Cost())

    @property
    def used_parameter_count(self) -> int:
        return sum(self.used_parameters.values())

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self) -> "CostCounter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- hooks -----------------------------------------------------------------------
    def _note_parameters(self, module: nn.Module, inputs, output) -> None:
        for p in module.parameters(recurse=False):
            self.used_parameters[id(p)] = p.numel()

    def _hook_for(self, module: nn.Module) -> Callable | None:
        if isinstance(module, nn.Conv2d):
            return self._conv2d
        if isinstance(module, nn.Linear):
            return self._linear
        if isinstance(module, nn.GroupNorm):
            return self._groupnorm
        if isinstance(module, CenterPivotConv4d):
            return self._center_pivot
        if hasattr(module, "flop_cost"):  # a module that counts itself (tools/research's dense 4D conv)
            return lambda m, inputs, output: self.add(m.flop_cost(native_dims(inputs[0].shape, _layout(inputs))))
        return None

    def _conv2d(self, conv: nn.Conv2d, inputs, output) -> None:
        x = inputs[0]  # (N, C, Hi, Wi)
        self.add(
            conv2d_cost(
                x.shape[0], conv.in_channels, conv.out_channels, tuple(conv.kernel_size),
                tuple(x.shape[-2:]), tuple(output.shape[-2:]), conv.groups, conv.bias is not None,
            )
        )

    def _linear(self, linear: nn.Linear, inputs, output) -> None:
        x = inputs[0]
        rows = x.numel() // x.shape[-1]
        self.add(linear_cost(rows, linear.in_features, linear.out_features, linear.bias is not None))

    def _groupnorm(self, norm: nn.GroupNorm, inputs, output) -> None:
        self.add(Cost(0, 2 * output.numel()))

    def _center_pivot(self, conv: CenterPivotConv4d, inputs, output) -> None:
        # Both branches as they run in the input's layout (its Conv2d children are not hooked).
        n, ch, *shape4d = native_dims(inputs[0].shape, _layout(inputs))
        out_ch, k = conv.conv1.out_channels, conv.conv1.kernel_size[0]
        out_layout = inputs[2] if len(inputs) > 2 else None
        self.add(center_pivot_conv_cost(n, ch, out_ch, k, conv.support_stride, tuple(shape4d), _layout(inputs), out_layout))


def _layout(inputs) -> str:
    """The layout a 4D conv / GroupNorm was called with (second positional argument)."""
    return inputs[1] if len(inputs) > 1 else NATIVE


def count_costs(model: nn.Module, run: Callable[[StageObserver], object]) -> CostCounter:
    """Run ``run(counter)`` (a staged pass, usually on meta tensors) with a counter attached."""
    counter = CostCounter(model)
    try:
        with torch.no_grad():
            run(counter)
    finally:
        counter.close()
    return counter
