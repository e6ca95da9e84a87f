"""Generate procedural anime-like illustrations (color, region labels, line art) for training and evaluation.

Writes, for every index i of ``--count``: ``color/{i:05d}.png`` (RGB), ``labels/{i:05d}.png``
(uint16 region ids, 0 = ink, see :mod:`colorizer.data.synth`), ``lines/{i:05d}.png`` (the drawn
line art, 0 ink on 255 paper) and ``regions/{i:05d}.json`` (per region: shape, tone, RGB).
The same ``--seed`` gives byte-identical files.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``colorizer synth``."""
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--count", type=int, default=100, help="number of illustrations")
    parser.add_argument("--size", type=int, default=256, help="square side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="series seed (same seed, same files)")
    parser.add_argument("--start", type=int, default=0, help="first index (to extend a series)")


def write_series(out: Path, count: int, size: int, seed: int, start: int = 0, progress: bool = True) -> int:
    """Render and write ``count`` illustrations of series ``seed`` into ``out``; returns the count."""
    import json

    import cv2
    from tqdm import tqdm

    from colorizer.data.synth import render_indexed

    if count < 0:
        raise ValueError(f"--count must be >= 0, got {count}")
    if start < 0:
        raise ValueError(f"--start must be >= 0, got {start}")
    for sub in ("color", "labels", "lines", "regions"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for i in tqdm(range(start, start + count), desc="synth", unit="img", disable=not progress):
        ill = render_indexed(seed, i, size)
        name = f"{i:05d}"
        # Fixed PNG compression level: identical arrays give identical bytes.
        png = [cv2.IMWRITE_PNG_COMPRESSION, 6]
        cv2.imwrite(str(out / "color" / f"{name}.png"), cv2.cvtColor(ill.color, cv2.COLOR_RGB2BGR), png)
        cv2.imwrite(str(out / "labels" / f"{name}.png"), ill.labels, png)
        cv2.imwrite(str(out / "lines" / f"{name}.png"), ill.lines, png)
        regions = {
            str(r.label): {"shape": r.shape, "tone": r.tone, "rgb": list(r.rgb)} for r in ill.regions.values()
        }
        (out / "regions" / f"{name}.json").write_text(json.dumps(regions, sort_keys=True) + "\n")
    return count


def run(args: argparse.Namespace) -> int:
    """Entry point of ``colorizer synth``."""
    import logging
    import sys

    log = logging.getLogger("colorizer.data")
    try:
        n = write_series(args.out, args.count, args.size, args.seed, args.start)
    except ValueError as exc:
        print(f"colorizer synth: {exc}", file=sys.stderr)
        return 2
    log.info("wrote %s illustrations of %sx%s (seed %s) to %s", n, args.size, args.size, args.seed, args.out)
    return 0
