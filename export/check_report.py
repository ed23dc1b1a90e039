"""The verdict of :func:`~.onnx_check.check_onnx` on one graph: one line per check, and
the text ``hsnet-deploy check`` prints (with the op histogram)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..runtime.graph_contract import (
    DEFAULT_PRECISION,
    KEY_BACKBONE,
    KEY_GRAPH,
    KEY_IMG_SIZE,
    KEY_ISLANDS,
    KEY_PRECISION,
    KEY_SHOTS,
)


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class Report:
    source: str
    checks: list[CheckResult] = field(default_factory=list)
    op_histogram: dict[str, int] = field(default_factory=dict)
    opset: Optional[int] = None
    metadata: dict[str, str] = field(default_factory=dict)
    size_bytes: Optional[int] = None
    groups: str = ""  # each node group's precision (the precision check's finding)

    @property
    def ok(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def format(self) -> str:
        from ..runtime.segmenter import calibration_provenance

        meta = self.metadata
        head = f"{self.source}: {meta.get(KEY_GRAPH, '?')} graph, {meta.get(KEY_BACKBONE, '?')}, " \
               f"{meta.get(KEY_IMG_SIZE, '?')}x{meta.get(KEY_IMG_SIZE, '?')}, shots {meta.get(KEY_SHOTS, '?')}, opset {self.opset}"
        if self.size_bytes is not None:
            head += f", {self.size_bytes / 2**20:.1f} MiB"
        lines = [head]
        width = max((len(c.name) for c in self.checks), default=0)
        for c in self.checks:
            lines.append(f"  {'PASS' if c.passed else 'FAIL'}  {c.name:<{width}}  {c.detail}")
        total = sum(self.op_histogram.values())
        ops = ", ".join(f"{op} {n}" for op, n in sorted(self.op_histogram.items(), key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"  ops ({total} nodes): {ops}")
        if self.groups:
            islands = meta.get(KEY_ISLANDS)
            lines.append(f"  precision {meta.get(KEY_PRECISION, DEFAULT_PRECISION)} by node group: {self.groups}"
                         + (f"; float32 islands: {islands}" if islands else ""))
        calibration = calibration_provenance({meta.get(KEY_GRAPH, "graph"): meta})
        if calibration:
            lines.append(f"  int8 calibration: {calibration}")
        passed = sum(c.passed for c in self.checks)
        lines.append(f"  {'PASS' if self.ok else 'FAIL'}: {passed}/{len(self.checks)} checks passed")
        return "\n".join(lines)
