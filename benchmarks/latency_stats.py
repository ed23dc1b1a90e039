"""Summary statistics of a list of episode latencies.

For n samples t_1..t_n (seconds), sorted ascending as t_(1) <= ... <= t_(n):

    median, p90, p99   linear interpolation between order statistics: the q-quantile
                       sits at rank r = q (n - 1) (0-based), between t_(floor r) and
                       t_(ceil r) (numpy's default "linear" method), so
                       min <= median <= p90 <= p99 <= max always holds
    mean ± std         arithmetic mean and the sample standard deviation (n - 1 in the
                       denominator; 0 for a single sample)
    fps                1 / median: episodes per second at the typical latency (None if 0)

Everything is reported in milliseconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class LatencyStats:
    n: int
    median_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    fps: float | None  # None only if the median is 0

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(seconds: Sequence[float]) -> LatencyStats:
    """Latencies in seconds -> LatencyStats in milliseconds. Needs at least one sample."""
    ms = np.asarray(list(seconds), dtype=np.float64) * 1e3  # (n,)
    if ms.size == 0:
        raise ValueError("no latency samples to summarise")
    if not np.all(np.isfinite(ms)) or np.any(ms < 0):
        raise ValueError("latencies must be finite and non-negative")
    median, p90, p99 = np.percentile(ms, [50, 90, 99])
    std = float(ms.std(ddof=1)) if ms.size > 1 else 0.0
    return LatencyStats(
        n=int(ms.size),
        median_ms=float(median),
        p90_ms=float(p90),
        p99_ms=float(p99),
        mean_ms=float(ms.mean()),
        std_ms=std,
        min_ms=float(ms.min()),
        max_ms=float(ms.max()),
        fps=float(1e3 / median) if median > 0 else None,
    )


def median_ms_by_key(runs: Sequence[Mapping[str, float]], keys: Iterable[str] | None = None) -> dict[str, float]:
    """Per key (a stage, an operator), the median over runs of its seconds, in ms; a run
    without the key counts 0. ``keys``: which and in what order (default: every key seen)."""
    if keys is None:
        keys = dict.fromkeys(k for run in runs for k in run)
    return {k: float(np.median([run.get(k, 0.0) for run in runs]) * 1e3) for k in keys}
