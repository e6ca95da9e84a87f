"""Page faults and CPU of a 2048 px page's image work, with glibc's defaults or the gateway's
kept freed memory (``COLORIZER_MALLOC_KEEP_FREED``), each in its own process, alternated::

    python scripts/bench_malloc.py --pairs 3

Per process: flat fill on the bench page, the guided upscale of a 256 canvas + lines + fpng
encode, and PNG decode; medians of ``--calls`` calls on one OpenCV thread of CPU ms, system CPU ms
and minor page faults (this thread's ``getrusage``).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(keep: bool, calls: int) -> str:
    """One process's line: per piece, median CPU ms (system ms, page faults)."""
    import cv2
    import numpy as np

    from bench import workload
    from colorizer.imaging import flatten
    from colorizer.imaging.postprocess import encode_image, overlay_lines
    from colorizer.imaging.upsample import guided_upsample
    from service.allocator import keep_freed_memory

    cv2.setNumThreads(1)
    if keep and not keep_freed_memory():
        raise SystemExit("mallopt refused (not glibc?)")
    h = w = 2048
    s = workload.sample(h, w, seed=h + w)
    gray = np.asarray(cv2.imdecode(np.frombuffer(s.png, np.uint8), cv2.IMREAD_GRAYSCALE), np.uint8)
    canvas = np.random.default_rng(h).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    rgb = np.asarray(cv2.resize(canvas, (w, h), interpolation=cv2.INTER_LINEAR), np.uint8)
    layer = flatten.hint_layer(h, w, s.points, s.strokes)
    pieces: dict[str, Callable[[], object]] = {
        "flat fill": lambda: flatten.flatten_regions(rgb, gray, layer),
        "upscale+lines+encode": lambda: encode_image(overlay_lines(guided_upsample(canvas, gray), gray)),
        "decode": lambda: cv2.imdecode(np.frombuffer(s.png, np.uint8), cv2.IMREAD_GRAYSCALE),
    }
    out = []
    for name, fn in pieces.items():
        fn()  # warm-up
        cpu, system, faults = [], [], []
        for _ in range(calls):
            r0, c0 = resource.getrusage(resource.RUSAGE_THREAD), time.thread_time()
            fn()
            cpu.append(1000 * (time.thread_time() - c0))
            r1 = resource.getrusage(resource.RUSAGE_THREAD)
            system.append(1000 * (r1.ru_stime - r0.ru_stime))
            faults.append(r1.ru_minflt - r0.ru_minflt)
        out.append(
            f"{name} {statistics.median(cpu):.0f} ms (system {statistics.median(system):.0f} ms, "
            f"{statistics.median(faults):.0f} faults)"
        )
    return "; ".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="process pairs (default, kept), alternated")
    parser.add_argument("--calls", type=int, default=9, help="timed calls per piece and process")
    parser.add_argument("--child", choices=["default", "keep"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(measure(args.child == "keep", args.calls))
        return
    for _ in range(args.pairs):
        for mode in ("default", "keep"):
            done = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--calls", str(args.calls)],
                capture_output=True, text=True, check=True,
            )
            print(f"{mode:8s} {done.stdout.strip()}", flush=True)


if __name__ == "__main__":
    main()
