"""Realistic benchmark inputs: line sketches (PNG) with point and stroke hints.

The line art is human-drawn when ``make data`` has prepared the real datasets (``data/real``, the
test split, drawings taken from each source in turn and scaled to the asked size), and otherwise
drawn here with OpenCV, seeded, so a fresh clone benchmarks without data files. Either way the
hints are a handful of dabs and a stroke, at seeded random places.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from colorizer import imaging
from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb

U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Sample:
    """One benchmark input: encoded sketch and its hints, in original-pixel coordinates."""

    png: bytes
    width: int
    height: int
    points: tuple[imaging.PointHint, ...]
    strokes: tuple[imaging.StrokeHint, ...]


def sketch(height: int, width: int, *, seed: int = 0) -> U8:
    """Gray line art [H, W]: closed shapes and curves, line width scaled with the image."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width), 255, np.uint8)
    thick = max(1, round(min(height, width) / 200))
    for _ in range(12):
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (
            int(rng.integers(width // 20 + 1, width // 4 + 2)),
            int(rng.integers(height // 20 + 1, height // 4 + 2)),
        )
        cv2.ellipse(img, center, axes, float(rng.uniform(0, 180)), 0, 360, 0, thick, cv2.LINE_AA)
    for _ in range(8):
        pts = np.stack([rng.integers(0, width, 5), rng.integers(0, height, 5)], axis=1).astype(np.int32)
        cv2.polylines(img, [pts], False, 0, thick, cv2.LINE_AA)
    return img


def sample(height: int, width: int, *, seed: int = 0, n_points: int = 8, lines: U8 | None = None) -> Sample:
    """A PNG sketch of ``height`` x ``width`` with ``n_points`` dabs and one stroke.

    ``lines``: line art (0 ink on 255 paper) scaled to that size; default a drawn sketch.
    """
    rng = np.random.default_rng(seed + 1000)
    art = sketch(height, width, seed=seed) if lines is None else _scaled(lines, height, width)
    ok, data = cv2.imencode(".png", art)
    if not ok:
        raise RuntimeError("PNG encoding failed")

    def rgb() -> tuple[int, int, int]:
        return (int(rng.integers(0, 256)), int(rng.integers(0, 256)), int(rng.integers(0, 256)))

    points = tuple(
        imaging.PointHint(
            float(rng.uniform(0, width)), float(rng.uniform(0, height)), rgb(), radius=width / 100
        )
        for _ in range(n_points)
    )
    stroke = imaging.StrokeHint(
        points=tuple((float(rng.uniform(0, width)), float(rng.uniform(0, height))) for _ in range(4)),
        width=max(2.0, width / 80),
        rgb=rgb(),
    )
    return Sample(data.tobytes(), width, height, points, (stroke,))


def _scaled(lines: U8, height: int, width: int) -> U8:
    # Area averaging down, cubic up (lines stay dark and anti-aliased, as a scan at that size).
    smaller = height * width < lines.shape[0] * lines.shape[1]
    method = cv2.INTER_AREA if smaller else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(lines, (width, height), interpolation=method), np.uint8)


def real_line_art(count: int, root: Path = Path("data/real"), split: str = "test") -> list[U8]:
    """Up to ``count`` human-drawn line arts of ``split``, one source after another in turn
    (empty when ``make data`` has not prepared ``root``)."""
    by_source = []
    for manifest in sorted(root.glob("*/manifest.json")):
        pairs = json.loads(manifest.read_text())["pairs"]
        by_source.append(
            [manifest.parent / "lines" / f"{p['name']}.png" for p in pairs if p["split"] == split]
        )
    paths = [files[i] for i in range(count) for files in by_source if i < len(files)][:count]
    arts = [cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) for path in paths]
    return [np.asarray(a, np.uint8) for a in arts if a is not None]


def samples(sizes: int | tuple[int, ...], count: int, line_art: list[U8] | None = None) -> list[Sample]:
    """``count`` different square samples, their sides taking ``sizes`` in turn (one size, or a
    mixed load); the line art taken from ``line_art`` in turn when given, else drawn."""
    sides = (sizes,) if isinstance(sizes, int) else sizes

    def art(i: int) -> U8 | None:
        return line_art[i % len(line_art)] if line_art else None

    return [sample(sides[i % len(sides)], sides[i % len(sides)], seed=i, lines=art(i)) for i in range(count)]


def label(sizes: tuple[int, ...]) -> str:
    """A workload's name: its one size ("512"), or "mixed 256-2048"."""
    return str(sizes[0]) if len(sizes) == 1 else f"mixed {min(sizes)}-{max(sizes)}"


def to_request(s: Sample, request_id: str = "", *, flat_fill: bool = False) -> pb.ColorizeRequest:
    """The ``colorizer.v1.ColorizeRequest`` carrying ``s`` (PNG out, original size; flat-filled
    with ``flat_fill``)."""

    def color(c: tuple[int, int, int]) -> pb.Color:
        return pb.Color(r=c[0], g=c[1], b=c[2])

    return pb.ColorizeRequest(
        request_id=request_id,
        sketch=s.png,
        points=[pb.PointHint(x=p.x, y=p.y, color=color(p.rgb), radius=p.radius) for p in s.points],
        strokes=[
            pb.StrokeHint(
                points=[pb.Point(x=x, y=y) for x, y in st.points], width=st.width, color=color(st.rgb)
            )
            for st in s.strokes
        ],
        output=pb.OutputOptions(format=pb.IMAGE_FORMAT_PNG, flat_fill=flat_fill),
    )
