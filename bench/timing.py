"""Interleaved timing: the fair way to compare on cores shared with other work.

Load from other processes comes in bursts of seconds to minutes. Timing A for a while and then B
for a while lets a burst land on one of them only; running A, B, C, A, B, C, ... spreads every
burst over all of them, so their ratio holds even when their absolute values drift.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


def interleave(
    cases: Mapping[str, Callable[[], object]], *, budget_s: float, min_runs: int = 3, warmup: int = 1
) -> dict[str, list[float]]:
    """Seconds of each run of each case, cases run in turn until ``budget_s`` and ``min_runs``."""
    for fn in cases.values():
        for _ in range(warmup):  # first runs allocate, plan kernels, fill caches
            fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    start = time.perf_counter()
    while min(len(t) for t in times.values()) < min_runs or time.perf_counter() - start < budget_s:
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def median(times: list[float]) -> float:
    """Median seconds (robust to the odd run that a burst of other load slowed down)."""
    return statistics.median(times)
