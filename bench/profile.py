"""Sampling profiles of the gateway under load, with py-spy (``colorizer bench --profile``).

py-spy samples the gateway process from outside (no code in the gateway, ``--nonblocking`` so it
is not paused while sampled) and writes collapsed stacks: one line per distinct stack,
``thread;frame;frame;... count``. Only threads on a CPU are sampled (py-spy skips idle ones by
default), so a frame's share of the samples is its share of the process's CPU, the model's
ONNX Runtime calls included. :func:`summarize` turns the file into what the report shows: the
share of each thread kind and the functions where the samples end (self time).
"""

from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

#: Samples per second.
RATE_HZ = 100

#: Thread names as the gateway gives them (pools' prefixes), in the order the report shows them.
THREAD_KINDS = ("image", "heavy", "onnxruntime", "event loop / gRPC", "other")

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def pyspy() -> str:
    """The py-spy executable (the dev extra installs it next to this interpreter)."""
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).is_file():
        raise RuntimeError("py-spy is not installed: `pip install -e .[dev]` (make setup) installs it")
    return found


def record_command(output: Path, command: list[str]) -> list[str]:
    """``command`` run under py-spy, its collapsed stacks written to ``output`` on exit or SIGINT."""
    return [
        pyspy(),
        "record",
        "--format",
        "raw",
        "--rate",
        str(RATE_HZ),
        "--threads",
        "--nonblocking",
        "--output",
        str(output),
        "--",
        *command,
    ]


@dataclass(frozen=True)
class Profile:
    """What :func:`summarize` found in one collapsed-stacks file."""

    samples: int
    #: Share of the samples per thread kind (:data:`THREAD_KINDS`).
    threads: dict[str, float]
    #: (function, file, share of the samples) where samples end, largest first.
    self_time: list[tuple[str, str, float]]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "samples": self.samples,
            "threads": self.threads,
            "self_time": [{"function": f, "file": p, "share": s} for f, p, s in self.self_time],
        }


def thread_kind(frame: str) -> str:
    """The kind of thread a collapsed stack's first frame names (py-spy ``--threads``)."""
    name = frame.lower()
    for prefix in ("image", "heavy", "onnxruntime"):
        if prefix in name:
            return prefix
    if "mainthread" in name or "main" in name:
        return "event loop / gRPC"
    return "other"


def summarize(collapsed: Path, top: int = 15) -> Profile:
    """Thread shares and the ``top`` self-time frames of a py-spy raw (collapsed) file."""
    threads: Counter[str] = Counter()
    leaves: Counter[tuple[str, str]] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        threads[thread_kind(frames[0])] += count
        leaf = _FRAME.match(frames[-1]) if len(frames) > 1 else None
        if leaf is None:
            leaves[(frames[-1], "")] += count
        else:
            leaves[(leaf["func"], Path(leaf["file"]).name)] += count
    if not total:
        return Profile(0, {}, [])
    return Profile(
        samples=total,
        threads={k: threads[k] / total for k in THREAD_KINDS if threads[k]},
        self_time=[(f, p, n / total) for (f, p), n in leaves.most_common(top)],
    )
