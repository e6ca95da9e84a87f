"""The line-guided upscale of two revisions side by side: CPU time per page and error off the lines.

    python scripts/compare_upsample.py --before REV [--drawings 32]

Speed: both versions alternated in one process on real line art (``data/real``, val split) scaled
to each page size, one thread, thread CPU time (a busy machine moves wall time, less so CPU time);
medians. Quality: the truth colors shrunk to the canvas and blurred by 1 px (the model's haze across
lines) are brought back to the page size by each version; mean abs RGB error against the truth over
the pixels off the lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compare_flat_fill import load_module, show_at  # noqa: E402  (scripts/, next to this file)

from colorizer.data.real import load_pair  # noqa: E402
from colorizer.imaging import upsample as current  # noqa: E402

CASES = ((256, 256), (512, 256), (1024, 256), (2048, 256), (2048, 512), (3000, 512))


def module_at(rev: str) -> ModuleType:
    """colorizer/imaging/upsample.py as it was at ``rev``, imported under another name."""
    text = show_at(rev, "colorizer/imaging/upsample.py")
    if text is None:
        raise SystemExit(f"no colorizer/imaging/upsample.py at {rev}")
    return load_module("upsample_before", text)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="git revision to compare against")
    p.add_argument("--drawings", type=int, default=32, help="val drawings (8 per source at most)")
    p.add_argument("--data-root", type=Path, default=ROOT / "data/real")
    args = p.parse_args()
    cv2.setNumThreads(1)
    before = module_at(args.before)
    pairs = []
    for manifest in sorted(args.data_root.glob("*/manifest.json")):
        names = [x["name"] for x in json.loads(manifest.read_text())["pairs"] if x["split"] == "val"]
        pairs += [(manifest.parent, n) for n in names[:8]]
    pairs = pairs[: args.drawings]
    print(f"{len(pairs)} drawings; before = {args.before}, after = the working tree")
    print("| page / canvas | CPU ms before | after | ratio | error off lines before | after |")
    print("|---|---:|---:|---:|---:|---:|")
    for side, canvas in CASES:
        times: dict[str, list[float]] = {"before": [], "after": []}
        errors: dict[str, list[float]] = {"before": [], "after": []}
        for folder, name in pairs:
            rgb, _alpha, lines = load_pair(folder, name)
            truth = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_NEAREST)
            gray = cv2.resize(lines, (side, side), interpolation=cv2.INTER_LINEAR)
            small = cv2.resize(rgb, (canvas, canvas), interpolation=cv2.INTER_AREA)
            small = cv2.GaussianBlur(small, (0, 0), 1.0)
            off_lines = gray >= 200
            for key, module in (("before", before), ("after", current)):
                start = time.thread_time()
                out = module.guided_upsample(small, gray)
                times[key].append(time.thread_time() - start)
                errors[key].append(float(np.abs(out.astype(np.int16) - truth)[off_lines].mean()))
        tb, ta = (float(np.median(times[k])) * 1000 for k in ("before", "after"))
        print(f"| {side} / {canvas} | {tb:.1f} | {ta:.1f} | {tb / ta:.2f}x "
              f"| {np.mean(errors['before']):.2f} | {np.mean(errors['after']):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
