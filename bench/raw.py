"""Mode ``raw``: ONNX Runtime on the repository's model alone, what a user would run instead.

Batch sizes and the compute-ceiling graphs are timed interleaved (see :mod:`bench.timing`), so a
burst of load from another process on the shared cores hits all of them alike; rows report
medians. The session uses the gateway's own options (:func:`service.backends.embedded.session_options`).
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.timing import interleave, median
from colorizer import contract


@dataclass(frozen=True)
class RawRow:
    """One batch size's measurement."""

    batch: int
    #: Median seconds per ``session.run`` of the whole batch.
    batch_s: float
    runs: int

    @property
    def images_per_s(self) -> float:
        """Throughput in images per second."""
        return self.batch / self.batch_s

    @property
    def ms_per_image(self) -> float:
        """Milliseconds per image."""
        return 1000 * self.batch_s / self.batch


def make_session(path: Path | bytes, threads: int) -> Any:
    """An ORT CPU session with the gateway's options."""
    import onnxruntime as ort

    from service.backends.embedded import session_options

    source = path if isinstance(path, bytes) else str(path)
    return ort.InferenceSession(source, session_options(threads), providers=["CPUExecutionProvider"])


def feeds(batch: int, size: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Model inputs for ``batch`` sketches of ``size`` px: mostly paper with ink, sparse hints."""
    rng = np.random.default_rng(seed)
    sketch = (rng.random((batch, 1, size, size)) > 0.05).astype(np.float32)
    s = size // contract.HINT_SCALE
    hint = np.zeros((batch, contract.HINT.channels, s, s), np.float32)
    mask = rng.random((batch, s, s)) < 0.02
    hint[:, 3] = mask
    hint[:, :3] = rng.random((batch, 3, s, s)).astype(np.float32) * mask[:, None]
    return {contract.SKETCH.name: sketch, contract.HINT.name: hint}


def runner(session: Any, batch: int, size: int) -> Callable[[], object]:
    """A zero-argument call running ``session`` once on a batch of ``batch``."""
    inputs = feeds(batch, size, seed=batch)
    names = [contract.COLOR.name]
    return lambda: session.run(names, inputs)


def measure_batches(
    sessions: dict[str, Any],
    size: int,
    batches: Sequence[int],
    *,
    budget_s: float,
    min_runs: int = 3,
    extra: dict[str, Callable[[], object]] | None = None,
) -> tuple[dict[str, list[RawRow]], dict[str, list[float]]]:
    """Every (session, batch) pair and the ``extra`` calls, interleaved.

    Returns rows per session name, and the raw run times of the ``extra`` calls.
    """
    cases: dict[str, Callable[[], object]] = {
        f"{name}/{b}": runner(session, b, size) for name, session in sessions.items() for b in batches
    }
    cases.update(extra or {})
    times = interleave(cases, budget_s=budget_s, min_runs=min_runs)
    rows = {
        name: [RawRow(b, median(times[f"{name}/{b}"]), len(times[f"{name}/{b}"])) for b in batches]
        for name in sessions
    }
    return rows, {k: times[k] for k in extra or {}}


def op_profile(path: Path, threads: int, size: int, batch: int) -> dict[str, float]:
    """Share of kernel time per ONNX op type (ORT's profiler, a few runs), largest first."""
    import onnxruntime as ort

    from service.backends.embedded import session_options

    options = session_options(threads)
    options.enable_profiling = True
    options.profile_file_prefix = str(Path("/tmp") / f"colorizer_bench_profile_{time.monotonic_ns()}")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = feeds(batch, size)
    for _ in range(3):
        session.run(None, x)
    trace = Path(session.end_profiling())
    try:
        events = json.loads(trace.read_text())
    finally:
        trace.unlink(missing_ok=True)
    per_op: collections.Counter[str] = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
    total = sum(per_op.values()) or 1
    return {op: us / total for op, us in per_op.most_common()}
