"""Write the sample sketches of examples/ and their hint sidecars (deterministic; rerun to refresh).

Each sketch is a synthetic illustration (colorizer.data.synth) cropped to a varied size, turned
into line art with colorizer.lines.extract_lines (as training does), and saved in a different
encoding: plain 8-bit PNG, an odd 333x517 size, 16-bit PNG, transparent paper (alpha), JPEG,
WebP. Hints sit at the most interior pixel of the largest regions, with the region's true color
(read from the label map), so the demo shows the model following correct hints.

Usage: .venv/bin/python scripts/make_examples.py [--out examples]
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from colorizer.data.synth import LINE_LABEL, Illustration, render_indexed
from colorizer.imaging.hints import PointHint, StrokeHint
from colorizer.imaging.hints_json import HintSet, hints_to_json
from colorizer.lines import extract_lines

logger = logging.getLogger("scripts.make_examples")

SEED = 20261127


@dataclass(frozen=True)
class Example:
    """One sample: name, size, how it is encoded, how many point hints, whether a stroke."""

    name: str
    height: int
    width: int
    encoding: str  # png8, png16, alpha, jpeg, webp
    points: int
    stroke: bool = False


EXAMPLES = (
    Example("01_square", 256, 256, "png8", 6),
    Example("02_odd_333x517", 333, 517, "png8", 8),
    Example("03_16bit", 288, 384, "png16", 6),
    Example("04_alpha", 300, 300, "alpha", 5, stroke=True),
    Example("05_photo_jpeg", 360, 480, "jpeg", 7),
    Example("06_tall_webp", 420, 200, "webp", 4),
    Example("07_no_hints", 320, 320, "png8", 0),
)
SUFFIX = {"png8": ".png", "png16": ".png", "alpha": ".png", "jpeg": ".jpg", "webp": ".webp"}


def crop(ill: Illustration, height: int, width: int) -> Illustration:
    """The top-left ``height`` x ``width`` of a square illustration (labels stay exact)."""
    return Illustration(
        color=ill.color[:height, :width].copy(),
        labels=ill.labels[:height, :width].copy(),
        lines=ill.lines[:height, :width].copy(),
        regions=ill.regions,
    )


def interior_point(mask: np.ndarray) -> tuple[int, int, float]:
    """(x, y, distance to the region's border) of the region's most interior pixel."""
    # A zero border makes the image edge count as the region's edge too.
    padded = cv2.copyMakeBorder(mask.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(x), int(y), float(dist[y, x])


def make_hints(ill: Illustration, count: int, stroke: bool) -> HintSet:
    """Point hints in the ``count`` largest regions (true colors), plus a stroke if asked."""
    labels, areas = np.unique(ill.labels, return_counts=True)
    order = [int(labels[i]) for i in np.argsort(-areas) if labels[i] != LINE_LABEL]
    points: list[PointHint] = []
    strokes: list[StrokeHint] = []
    for label in order:
        if len(points) >= count:
            break
        x, y, depth = interior_point(ill.labels == label)
        if depth < 4:  # too thin to hint without touching a line
            continue
        rgb = ill.regions[label].rgb
        if stroke and not strokes and depth >= 12:
            # A short horizontal stroke through the interior, kept inside the region.
            half = int(depth * 0.6)
            strokes.append(StrokeHint(((x - half, y), (x + half, y)), width=4.0, rgb=rgb))
            continue
        points.append(PointHint(x=x, y=y, rgb=rgb, radius=3.0))
    return HintSet(tuple(points), tuple(strokes))


def dump_hints(doc: dict[str, list[dict[str, object]]]) -> str:
    """The hints document as JSON with one hint per line (easy to read and to diff)."""
    parts = []
    for key, items in doc.items():
        rows = ",\n".join("    " + json.dumps(item) for item in items)
        parts.append(f'  "{key}": [\n{rows}\n  ]')
    return "{\n" + ",\n".join(parts) + "\n}\n"


def encode(lines: np.ndarray, encoding: str) -> bytes:
    """Gray line art -> file bytes in the example's encoding."""
    params: list[int]
    if encoding == "png16":
        img, ext, params = lines.astype(np.uint16) * 257, ".png", []
    elif encoding == "alpha":
        # Black ink on transparent paper: alpha carries the lines.
        img = np.dstack([np.zeros_like(lines)] * 3 + [255 - lines])
        ext, params = ".png", []
    elif encoding == "jpeg":
        img, ext, params = lines, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]
    elif encoding == "webp":
        img, ext, params = lines, ".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]  # > 100: lossless
    else:
        img, ext, params = lines, ".png", []
    ok, buf = cv2.imencode(ext, img, params)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {encoding}")
    return buf.tobytes()


def write_examples(out: Path) -> list[Path]:
    """Write every example (and its sidecar) into ``out``; returns the sketch paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index, ex in enumerate(EXAMPLES):
        ill = crop(render_indexed(SEED, index, max(ex.height, ex.width)), ex.height, ex.width)
        lines = extract_lines(ill.color)
        path = out / (ex.name + SUFFIX[ex.encoding])
        path.write_bytes(encode(lines, ex.encoding))
        sidecar = out / (ex.name + ".hints.json")
        hints = make_hints(ill, ex.points, ex.stroke)
        if len(hints):
            sidecar.write_text(dump_hints(hints_to_json(hints)))
        elif sidecar.exists():
            sidecar.unlink()
        logger.info("%s: %dx%d %s, %d hints", path.name, ex.width, ex.height, ex.encoding, len(hints))
        written.append(path)
    return written


def main() -> None:
    """Parse flags and write the examples."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("examples"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_examples(args.out)


if __name__ == "__main__":
    main()
