"""The measurement: every case timed in one interleaved loop, so drift hits all alike.

    prepare      each case: cached support encoded, CUDA graph captured; then the
                 reference episode (episode 0, outputs kept for the agreement numbers;
                 peak memory of the case's first episode)
    warm-up      max(warmup, 1) passes; the last one measures each case's peak memory
    timed        ``iters`` passes: pass r runs the cases rotated by r (case r first), on
                 query r mod QUERY_POOL; per episode the end-to-end latency, the network
                 part (everything but pre- and post-processing) and the stages
    staged       ``stage_iters`` passes over the stageable cases (apart from the timed
                 passes: these never enter the latencies): PyTorch runs every network
                 stage timed one by one, onnxruntime runs its graph under its profiler
                 and splits the node times into the same stages afterwards

A shared machine slows down and speeds up over minutes; rotating the order each pass
spreads that drift over all cases instead of charging it to whichever ran last.
"""

from __future__ import annotations

import time

from .bench_cases import Case
from .bench_settings import BenchSettings
from .peak_memory import measure_peak_memory
from .staged_forward import POST, PRE
from .synthetic_episode import QUERY_POOL


def rotated(items: list, r: int) -> list:
    """``items`` starting at index r mod len: [i_r, ..., i_n-1, i_0, ..., i_r-1]."""
    if not items:
        return []
    r %= len(items)
    return items[r:] + items[:r]


def episode_count(s: BenchSettings, cases: list[Case]) -> int:
    """Episodes :func:`measure_cases` runs (its progress total)."""
    stageable = sum(c.config.can_stage for c in cases)
    return len(cases) * (1 + max(s.warmup, 1) + s.iters) + stageable * s.stage_iters


def measure_cases(s: BenchSettings, cases: list[Case], episodes: dict, device, progress) -> None:
    """Fill every case's reference, memory, latencies and stages; ``episodes``: K -> list of
    QUERY_POOL episodes sharing one support set; ``progress``: a tqdm bar."""
    cuda = device if device.type == "cuda" else None
    stageable = [c for c in cases if c.config.can_stage]

    for case in cases:
        progress.set_postfix_str(f"prepare {case.config.label} K={case.shots}")
        case.config.prepare(episodes[case.shots][0])
        with measure_peak_memory(cuda) as mem:
            case.reference = case.config.run(episodes[case.shots][0])
        case.first_run_memory = mem.as_dict()
        progress.update(1)

    for w in range(max(s.warmup, 1)):  # at least one pass: it carries the memory measurement
        last = w == max(s.warmup, 1) - 1
        for case in rotated(cases, w):
            episode = episodes[case.shots][w % QUERY_POOL]
            if last:
                with measure_peak_memory(cuda) as mem:
                    case.config.run(episode)
                case.memory = mem.as_dict()
            else:
                case.config.run(episode)
            progress.set_postfix_str(f"warm-up {case.config.label} K={case.shots}")
            progress.update(1)

    for r in range(s.iters):
        for case in rotated(cases, r):
            episode = episodes[case.shots][r % QUERY_POOL]
            start = time.perf_counter()
            out = case.config.run(episode)
            case.latencies.append(time.perf_counter() - start)
            case.network.append(sum(v for k, v in out.seconds.items() if k not in (PRE, POST)))
            case.timed_stages.append(out.seconds)
            progress.set_postfix_str(f"{case.config.label} K={case.shots}")
            progress.update(1)

    for r in range(s.stage_iters):
        for case in rotated(stageable, r):
            out = case.config.run(episodes[case.shots][r % QUERY_POOL], staged=True)
            case.staged_stages.append(out.seconds)
            progress.set_postfix_str(f"stages {case.config.label} K={case.shots}")
            progress.update(1)
    for case in stageable:
        case.staged_stages = case.config.finish_staged(case.staged_stages)
