"""Evaluation cases: a sketch, its ground truth, region labels and an ordered list of hints.

Two sources, built the way training builds its samples (:mod:`colorizer.data.dataset`): the sketch
is :func:`colorizer.lines.extract_lines` of the color image, hint colors are
:func:`colorizer.data.hints.cell_colors` of it.

* **Synthetic** (:func:`synthetic_case`): illustration ``index`` of series :data:`EVAL_SEED`. The
  trainer draws sample ``i`` from ``default_rng([seed, i])`` with ``--seed`` (default 0) and its
  validation batch with ``seed + 1_000_003``, so series 7_000_003 is held out from both. The
  label map of :mod:`colorizer.data.synth` is the ground truth of regions.
* **Folder** (:func:`image_case`): any color image, center-cropped and resized; regions are the
  connected components of the sketch's non-line pixels.

Hints are single cells of the 1/4-resolution hint map, placed only where the whole 4x4 block lies
inside one region, ordered so that the first ``n`` hints are the case's ``n``-hint setting
(fewer hints are a prefix of more, as a user adds hints): one per region first, largest regions
most likely first, then more hints per region round-robin.

Real human-drawn line art (``--set real``) is :mod:`colorizer.eval.real`; it builds the same
:class:`Case`, with the figure / background masks the figure and paper errors read. The hint count
:data:`PER_REGION` (``region``) is, per case, one hint in each region that can hold one.

``gaps`` punches holes into the sketch's lines (white disks on line pixels) while keeping the
truth: line gaps are where a flood fill leaks and where a learned model has to infer the border.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from colorizer import contract
from colorizer.data.hints import cell_colors
from colorizer.data.synth import render_indexed
from colorizer.encoding import F32, U8, encode_hint
from colorizer.eval.color import srgb_to_lab
from colorizer.eval.metrics import I32, Hint
from colorizer.lines import extract_lines

#: Series seed of the held-out synthetic set: training draws from ``--seed`` (0 by default) and
#: validates on ``--seed + 1_000_003``; this is neither for any seed below 10**6.
EVAL_SEED = 7_000_003
#: Sketch pixels darker than this are line; the rest is paper. Nearly white, because
#: extract_lines draws a weak color edge (a base tone next to its shadow) as a light-gray line:
#: at 128, 11% of the synthetic regions' pixels end up in a component with another region, at
#: 250 0.6%.
LINE_THRESHOLD = 250
#: Radius in px of the holes ``--gaps`` punches into the lines (a 7 px gap).
GAP_RADIUS = 3
#: Regions within this many pixels of each other are neighbours (wider than any extracted line).
NEIGHBOUR_RADIUS = 6
#: Components smaller than this (pixels) are ignored in folder images: specks, not regions.
MIN_REGION = 16
#: The most hints any case carries (the largest setting of the sweep).
MAX_HINTS = 64
#: The hint-count token meaning "one hint per hintable region" (``--hints 0,4,16,region``): per
#: case, :attr:`Case.region_count`; tables title it ``1/region``.
PER_REGION = "region"
#: A hint count: a number, or :data:`PER_REGION`.
Count = int | str


@dataclass
class Case:
    """One evaluation case. ``labels`` is 0 where no region metric looks (see :mod:`.metrics`)."""

    name: str
    truth: U8  # [H, W, 3] RGB
    sketch: U8  # [H, W] gray, 0 ink on 255 paper
    labels: I32  # [H, W]
    hints: list[Hint] = field(default_factory=list)
    #: [H, W] bool: the pixels the figure error looks at (the drawing's non-line pixels). None:
    #: the non-line pixels of ``sketch``.
    figure: npt.NDArray[np.bool_] | None = None
    #: [H, W] bool: the transparent paper (no drawing) the paper error looks at, lines excluded.
    #: None: the case has no such paper (synthetic and folder cases are painted edge to edge).
    background: npt.NDArray[np.bool_] | None = None
    #: Regions within this many pixels of each other are neighbours (more than the line width).
    neighbour_radius: int = NEIGHBOUR_RADIUS
    #: The labels the flat-region spread looks at: regions whose truth is one flat color. None:
    #: ``labels`` (every synthetic region is flat).
    flat_labels: I32 | None = None

    @property
    def figure_mask(self) -> npt.NDArray[np.bool_]:
        """The pixels of the figure error (see :attr:`figure`)."""
        return self.figure if self.figure is not None else np.asarray(self.sketch >= LINE_THRESHOLD)

    @property
    def region_count(self) -> int:
        """How many regions can hold a hint: the :data:`PER_REGION` setting, one hint in each
        (the first hints are one per region, so this many hints cover each once)."""
        return len({h.label for h in self.hints})

    def hint_count(self, count: Count) -> int:
        """The number of hints of the setting ``count`` for this case."""
        if count == PER_REGION:
            return self.region_count
        if isinstance(count, str):
            raise ValueError(f"unknown hint count {count!r}")
        return int(count)

    @cached_property
    def truth_lab(self) -> npt.NDArray[np.float64]:
        """The truth in CIELAB."""
        return srgb_to_lab(self.truth)

    @cached_property
    def neighbours(self) -> dict[int, list[int]]:
        """Per region label, the labels within :attr:`neighbour_radius` pixels (across a line)."""
        size = 2 * self.neighbour_radius + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        out: dict[int, list[int]] = {}
        for k in np.unique(self.labels):
            if k == 0:
                continue
            grown = cv2.dilate((self.labels == k).astype(np.uint8), kernel).astype(bool)
            near = np.unique(self.labels[grown])
            out[int(k)] = [int(v) for v in near if v not in (0, k)]
        return out

    def hint_map(self, count: Count) -> F32:
        """The ``hint`` tensor [4, H/4, W/4] carrying the first ``count`` hints."""
        count = self.hint_count(count)
        s = contract.HINT_SCALE
        h, w = self.sketch.shape[0] // s, self.sketch.shape[1] // s
        colors = np.zeros((h, w, 3), np.uint8)
        mask = np.zeros((h, w), bool)
        for hint in self.hints[:count]:
            colors[hint.row, hint.col] = hint.rgb
            mask[hint.row, hint.col] = True
        return encode_hint(colors, mask)


def _metric_labels(labels: npt.NDArray[Any], sketch: U8) -> I32:
    """Region labels with every pixel the sketch draws as line set to 0."""
    out = labels.astype(np.int32)
    out[sketch < LINE_THRESHOLD] = 0
    return out


def place_hints(
    truth: U8,
    labels: I32,
    rng: np.random.Generator,
    count: int = MAX_HINTS,
    allowed: npt.NDArray[np.bool_] | None = None,
) -> list[Hint]:
    """Up to ``count`` hints in prefix order (see the module docstring), colors from the truth.

    ``allowed`` [H/4, W/4] bool, when given, further restricts the cells a hint may sit on.
    """
    s = contract.HINT_SCALE
    h, w = labels.shape[0] // s, labels.shape[1] // s
    blocks = labels[: h * s, : w * s].reshape(h, s, w, s).swapaxes(1, 2).reshape(h, w, s * s)
    inside = (blocks == blocks[..., :1]).all(axis=2) & (blocks[..., 0] != 0)
    if allowed is not None:
        inside &= allowed
    cell_label = blocks[..., 0]
    colors = cell_colors(truth)
    cells: dict[int, list[tuple[int, int]]] = {}
    for r, c in np.argwhere(inside):
        cells.setdefault(int(cell_label[r, c]), []).append((int(r), int(c)))
    if not cells:
        return []
    # Region order: weighted sampling without replacement, weight = area (Gumbel-top-k), so big
    # regions tend to get the first hints, as users hint them first.
    keys = sorted(cells)
    areas = np.array([np.count_nonzero(labels == k) for k in keys], dtype=np.float64)
    order = np.argsort(-(np.log(areas) + rng.gumbel(size=len(keys))))
    queues = {k: [cells[k][i] for i in rng.permutation(len(cells[k]))] for k in keys}
    hints: list[Hint] = []
    while len(hints) < count and any(queues.values()):
        for i in order:
            k = keys[int(i)]
            if queues[k] and len(hints) < count:
                r, c = queues[k].pop()
                rgb = colors[r, c]
                hints.append(Hint(row=r, col=c, rgb=(int(rgb[0]), int(rgb[1]), int(rgb[2])), label=k))
    return hints


def punch_gaps(sketch: U8, rng: np.random.Generator, count: int, radius: int = GAP_RADIUS) -> U8:
    """A copy of ``sketch`` with ``count`` white disks of ``radius`` px centered on line pixels."""
    out = sketch.copy()
    ys, xs = np.nonzero(sketch < LINE_THRESHOLD)
    if count <= 0 or len(ys) == 0:
        return out
    for i in rng.choice(len(ys), size=min(count, len(ys)), replace=False):
        cv2.circle(out, (int(xs[i]), int(ys[i])), radius, 255, -1)
    return out


def synthetic_case(
    index: int,
    size: int = contract.DEFAULT_SIZE,
    *,
    seed: int = EVAL_SEED,
    gaps: int = 0,
    gap_radius: int = GAP_RADIUS,
) -> Case:
    """Held-out synthetic case ``index``; ``gaps`` > 0 punches that many holes (disks of
    ``gap_radius`` px) into its lines."""
    contract.check_size(size, size)
    ill = render_indexed(seed, index, size)
    sketch = extract_lines(ill.color)
    # Hints are placed on the closed sketch with their own generator, so a case with gaps carries
    # exactly the hints of the same case without.
    labels = _metric_labels(ill.labels, sketch)
    hints = place_hints(ill.color, labels, np.random.default_rng([seed, index, 7]))
    figure = np.asarray(sketch >= LINE_THRESHOLD)  # the closed sketch's paper: a gap's truth is line
    if gaps:
        sketch = punch_gaps(sketch, np.random.default_rng([seed, index, 8]), gaps, gap_radius)
        labels = _metric_labels(ill.labels, sketch)
    name = f"synth-{seed}-{index:05d}" + (f"-gaps{gaps}" if gaps else "")
    return Case(name=name, truth=ill.color, sketch=sketch, labels=labels, hints=hints, figure=figure)


def load_image(path: Path, size: int) -> U8:
    """An image file as RGB uint8, center-cropped to a square and resized to ``size``."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot read image {path}")
    h, w = bgr.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    crop = bgr[y : y + side, x : x + side]
    interp = cv2.INTER_AREA if side >= size else cv2.INTER_CUBIC
    resized = cv2.resize(crop, (size, size), interpolation=interp)
    return np.ascontiguousarray(cv2.cvtColor(resized, cv2.COLOR_BGR2RGB))


def image_case(
    path: Path,
    size: int = contract.DEFAULT_SIZE,
    *,
    seed: int = EVAL_SEED,
    gaps: int = 0,
    gap_radius: int = GAP_RADIUS,
) -> Case:
    """A case from a color image: lines extracted as in training, regions from its line components."""
    contract.check_size(size, size)
    truth = load_image(path, size)
    sketch = extract_lines(truth)
    paper = (sketch >= LINE_THRESHOLD).astype(np.uint8)
    # Components are taken before any gap is punched: the truth's regions are the closed ones.
    n, comp = cv2.connectedComponents(paper, connectivity=4)
    comp = np.asarray(comp, dtype=np.int32)
    sizes = np.bincount(comp.ravel(), minlength=n)
    comp[(sizes < MIN_REGION)[comp]] = 0
    comp[paper == 0] = 0
    key = zlib.crc32(path.name.encode())
    labels = _metric_labels(comp, sketch)
    hints = place_hints(truth, labels, np.random.default_rng([seed, key, 7]))
    figure = paper.astype(bool)
    if gaps:
        sketch = punch_gaps(sketch, np.random.default_rng([seed, key, 8]), gaps, gap_radius)
        labels = _metric_labels(comp, sketch)
    return Case(
        name=path.stem + (f"-gaps{gaps}" if gaps else ""),
        truth=truth,
        sketch=sketch,
        labels=labels,
        hints=hints,
        figure=figure,
    )


def image_files(folder: Path) -> list[Path]:
    """The image files directly or deeper under ``folder``, sorted."""
    suffixes = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes)
