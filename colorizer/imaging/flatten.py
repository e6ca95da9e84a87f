"""Flat fills: one color per line-bounded region of the sketch, taken from the model's output.

Anime coloring is mostly flat fills inside closed lines; the model's colors wander inside a region
(blotches) and smear across lines near hints. This step labels the regions the sketch's lines
enclose and paints each one with the model's dominant color inside it, which removes both where
the regions are right. Where they are not, it stands back:

* gaps in the lines are closed first by joining line ends (:mod:`colorizer.imaging.gaps`), up to
  ``gap`` px at a 1000 px long side, scaled up with larger sketches, ``gap`` px down to a 512 px
  side, half of it at 256 px and below;
* a region with hints takes the hints' own color when they agree; a region whose hints disagree
  is labelled again with its lines thickened by 2 px, which cuts the narrow necks through which
  a punched or broken corner joins two regions (no line end sees those), and its parts are
  judged on their own; what still disagrees (two regions merged through a gap left open) keeps
  the model's colors;
* an unhinted region is flattened only when most of the model's colors in it agree (``agree`` of
  its pixels within ``tolerance`` Lab units of its mean); regions under ``min_area`` px (specks,
  hatching) keep the model's colors;
* ``paper``: an unhinted region touching the border (or the source's transparent background) is
  the paper around the figure and stays white instead of taking the model's color; a hinted one
  is a figure drawn with open strokes (a leaf, a petal) that shares its region with the paper: it
  takes the hints' color except where the model left it white out to the border, which stays paper.

The fills are grown a few pixels under the lines (each line pixel near a region takes its label),
so the antialiased edge of a line shows the fill through it, not a halo of the model's paper; then
the sketch's lines are drawn back over them (multiplied, as ``overlay_lines`` does).

Cost: a fixed number of full-size passes (threshold, one labelling, or two when a closure is
dropped, a few dilations, a table lookup), O(pixels) with no per-region loop; the line ends are
found at a bounded size.

numpy + OpenCV only, like the rest of this package.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from colorizer.imaging.components import label_regions
from colorizer.imaging.gaps import Labels, closed_regions
from colorizer.imaging.hints import PaintedPixels, rasterize_hints

#: The hints painted at the original size (one painter for the gateway, the bench and the eval).
hint_layer = rasterize_hints

__all__ = ["PaintedPixels", "flatten_regions", "hint_layer"]

U8 = npt.NDArray[np.uint8]

#: Gray values below this count as line (anti-aliased edges included).
LINE_THRESHOLD = 200
#: About how many pixels the region colors are estimated from (a regular sample beyond it; the
#: model's colors are an upscale of a canvas of about this size anyway).
STATS_PIXELS = 2**18
#: The gap distance is given at this long side and scales with the sketch's ...
GAP_REFERENCE_SIDE = 1000
#: ... but never below what it is at this long side, down to GAP_SMALL_SIDE. Holes do not shrink
#: with the page: on the real eval at 512 px, joins of 7.7 px (15 scaled to 512) left the 15 px
#: holes open (leak share 6.9% at 16 hints against 2.9% with 15 px joins), at no cost on
#: closed lines (0.49% / 0.52%).
GAP_MIN_SIDE = 1000
#: Below this long side the distance shrinks with the page again, to half of it at half this side
#: and below (7.5 px by default, about what it was before 2026-12-02): at 256 px, 15 px joins
#: leaked more than 7.7 px ones on closed lines (1.82% against 1.69%) and with 7 px holes
#: (3.01% against 2.19%).
GAP_SMALL_SIDE = 512
#: How many pixels the fills grow under the lines: the antialiased edge (1-2 px at any size).
GROW_PX = 2
#: Hinted pixels under 1 / this of the page are gathered by index, more by boolean compress.
HINT_INDEX_SHARE = 8
#: The paper color of unhinted border regions.
PAPER = (255, 255, 255)
# An open figure's pixel goes back to paper only where the model painted it within this many Lab
# units of white (and nearer white than the hint): the model's paper is near white (0.3-0.5
# CIEDE2000 on the real test set), its unsure figure pixels are pale tints that belong to the fill.
# 5 was the best of 5 / 8 / 15 / any on the gapped real eval (docs/QUALITY.md, "Paper").
OPEN_FIGURE_WHITE_DE = 5.0


def gap_px(gap: float, height: int, width: int) -> float:
    """The end-joining distance in px for a sketch of this size: ``gap`` at a 1000 px long side,
    scaled up above it, ``gap`` down to a 512 px side, then down to half of it at 256 px and below."""
    side = max(height, width)
    small = min(1.0, max(0.5, side / GAP_SMALL_SIDE))
    return gap * max(side, GAP_MIN_SIDE) / GAP_REFERENCE_SIDE * small


def _grow(labels: Labels, paper: U8, steps: int, spare: U8) -> Labels:
    """Each 0 pixel within ``steps`` px (chessboard) of a labelled one takes a neighbour's label.

    Dilation steps of 3x3 (the largest neighbour label within one pixel): a pixel between two
    regions goes to one of them, a pixel next to one region goes to that one. ``paper`` is 255
    where ``labels`` is not 0. ``labels`` and ``spare`` (a uint8 image of the same size) are
    overwritten: the passes reuse them instead of taking fresh full-size arrays, whose first
    touch costs page faults (at 2048 px the 2-step growth fell from ~12 to ~5 ms of CPU).

    OpenCV does not dilate int32: those labels (over 65535 regions) go through float32, exact
    below 2**24.
    """
    if steps <= 0:
        return labels
    kernel = np.ones((3, 3), np.uint8)
    if labels.dtype != np.uint16:
        work = labels.astype(np.float32)
        _grow_into(work, np.ones(work.shape, bool), steps)
        return work.astype(np.int32)
    # First step: every pixel takes the largest label around it, then the paper its own back
    # (the same as dilating into the line pixels only, without a mask of them).
    grown = np.asarray(cv2.dilate(labels, kernel), dtype=np.uint16)
    cv2.copyTo(labels, paper, grown)
    for _ in range(steps - 1):
        empty = cv2.compare(grown, 0, cv2.CMP_EQ, spare)  # type: ignore[call-overload]  # a scalar
        if not cv2.countNonZero(empty):
            break
        cv2.copyTo(cv2.dilate(grown, kernel, labels), empty, grown)
    return grown


def line_regions(
    gray: U8,
    gap: float = 15.0,
    min_area: int = 32,
    line_threshold: int = LINE_THRESHOLD,
    *,
    grow: int = GROW_PX,
) -> tuple[Labels, int]:
    """Labels [H, W] (ids below n; 0 = none) of the regions the lines of ``gray`` enclose, and n.

    Gaps up to :func:`gap_px` are closed (a closure cutting off less than ``min_area`` px is
    dropped); line pixels within ``grow`` px of a region take its label, the others are 0.
    """
    found = _regions(gray, gap, min_area, line_threshold, grow)
    if not found.identity:
        return found.region[found.grown].astype(np.int32), found.n
    return found.grown, found.n


@dataclass(frozen=True)
class _Found:
    paper: U8  # 255 where a region is (not line, not closure): where ``grown`` is the paper's label
    grown: Labels  # region labels, line pixels near a region included
    n: int
    region: npt.NDArray[np.intp]  # label -> region id (labels merged where a closure was dropped)
    area: npt.NDArray[np.int64]  # per region id
    on_border: npt.NDArray[np.bool_]  # per region id

    @property
    def identity(self) -> bool:
        """No labels merged: every label is its own region id."""
        return bool((self.region == np.arange(self.n)).all())


def _regions(gray: U8, gap: float, min_area: int, line_threshold: int, grow: int) -> _Found:
    h, w = gray.shape
    # gray < threshold as 0/1 in one OpenCV pass (numpy's bool then uint8 took two arrays).
    lines = np.asarray(cv2.threshold(gray, line_threshold - 1, 1, cv2.THRESH_BINARY_INV)[1], np.uint8)
    max_gap = gap_px(gap, h, w)
    # A closure may not cut off less than a pocket about half the joining distance across.
    found = closed_regions(lines, max_gap, max(min_area, int((max_gap / 2) ** 2)))
    # Regions under min_area keep their ids (the painting leaves them to the model's colors).
    grown = _grow(found.labels, found.paper, grow, lines)
    return _Found(found.paper, grown, found.count, found.region, found.area, found.on_border)


#: How far (px) the parts of a split region grow back over what their thickened lines took.
SPLIT_GROW_PX = 4
#: At most this many labels are examined for necks in one request; beyond it (hints disagreeing
#: all over a page) the regions keep the model's colors, as they did before necks were cut.
SPLIT_MAX_LABELS = 16
#: ... and at most this many (region, hint color) seeds flooded to see whether a cut would help.
SPLIT_MAX_SEEDS = 64


#: How many px the lines of a region whose hints disagree are thickened by: necks up to 4 px
#: wide close. On the real eval with 7 px holes (512 px), 1 px gave a leak share of 1.26%, 2 px
#: 1.05%, 3 px 1.04% (no cut: 1.85%).
SPLIT_THICKEN_PX = 2


def _thicken_kernel() -> U8:
    return np.ones((2 * SPLIT_THICKEN_PX + 1,) * 2, np.uint8)


def _grow_into(work: npt.NDArray[np.float32], empty: npt.NDArray[np.bool_], steps: int) -> None:
    """In place: each ``empty`` pixel within ``steps`` 3x3 steps of a labelled one takes the
    largest label beside it (labels as float32, exact below 2**24)."""
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(steps):
        todo = (empty & (work == 0)).view(np.uint8)
        if not cv2.countNonZero(todo):
            return
        cv2.copyTo(cv2.dilate(work, kernel), todo, work)


def _hints_in_two_parts(found: _Found, split: npt.NDArray[np.bool_], hinted: _Hinted, hints: U8) -> bool:
    """Whether some region of ``split`` has hints of two colors in two parts of the paper eroded
    by SPLIT_THICKEN_PX: one seed per color and region, each flooded over its part (a cost of
    the parts' area, not the page's) until two seeds of a region are found apart."""
    at = hinted.at if hinted.at is not None else np.flatnonzero(hints[..., 3])
    eroded = np.asarray(cv2.erode(found.paper, _thicken_kernel()), np.uint8)
    keep = split[hinted.ids] & (np.take(eroded.ravel(), at) > 0)
    key = (hinted.ids[keep].astype(np.uint64) << np.uint64(32)) | hinted.words[keep].astype(np.uint64)
    keys, first = np.unique(key, return_index=True)
    if len(keys) > SPLIT_MAX_SEEDS:
        return False
    seeds, regions = at[keep][first], (keys >> np.uint64(32)).astype(np.intp)
    w = found.paper.shape[1]
    flooded = np.zeros((found.paper.shape[0] + 2, w + 2), np.uint8)
    mark = 0
    for r in np.unique(regions):
        parts = set()
        for seed in seeds[regions == r]:
            y, x = divmod(int(seed), w)
            if not flooded[y + 1, x + 1]:
                mark += 1
                flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (mark << 8)
                cv2.floodFill(eroded, flooded, (x, y), 0, 0, 0, flags)
            parts.add(int(flooded[y + 1, x + 1]))
            if len(parts) > 1:
                return True
    return False


def _split_necks(
    found: _Found, split: npt.NDArray[np.bool_], hinted: _Hinted, hints: U8, regrow: int, grow: int
) -> _Found | None:
    """``found`` with the regions marked in ``split`` (per region id) labelled again at lines
    thickened by SPLIT_THICKEN_PX, when that puts their hints into two or more parts; else None.

    Only regions whose hints disagree pay for it, and only inside their bounding box: labelling
    at the lines as drawn keeps 2 px strips, which a thickened line would erase everywhere. Each
    part takes a new label and grows back, inside its region, over the pixels the thickening took
    (the neck goes to a side); pixels no part reaches (a thin strip off the region) keep the old
    label; line pixels beside the region are grown again from the new labels.
    """
    old = np.flatnonzero(split[found.region])  # the labels of the split regions
    old = old[old > 0]  # 0: the lines (hints on a line belong to no region)
    if len(old) == 0 or len(old) > SPLIT_MAX_LABELS or not _hints_in_two_parts(found, split, hinted, hints):
        return None
    h, w = found.paper.shape
    mask = np.zeros((h, w), np.uint8)
    for label in old:  # a few exact compares, not a gather of every label
        mask |= cv2.compare(found.grown, int(label), cv2.CMP_EQ)  # type: ignore[call-overload]
    x, y, bw, bh = cv2.boundingRect(mask)
    pad = grow + 2
    y0, y1, x0, x1 = max(0, y - pad), min(h, y + bh + pad), max(0, x - pad), min(w, x + bw + pad)
    box = (slice(y0, y1), slice(x0, x1))
    paper, grown = found.paper[box], found.grown[box]
    inside = (mask[box] > 0) & (paper > 0)
    core = np.asarray(cv2.erode(paper, _thicken_kernel()), np.uint8)
    core[~inside] = 0
    k, parts = label_regions(core)
    parts = np.asarray(parts, np.int32)
    n = found.n
    total = n + k - 1
    # Parts (new labels n .. total-1) grow back over the thickening, within their region.
    work = np.where(parts > 0, parts + (n - 1), 0).astype(np.float32)
    _grow_into(work, inside, regrow)
    taken = work > 0
    labels = np.where(taken, work, grown).astype(np.float32)
    # Line pixels that belonged to a split region are grown again (the others keep theirs).
    lines_again = (paper == 0) & np.isin(grown, old)
    labels[lines_again] = 0
    _grow_into(labels, lines_again, grow)
    new_grown: Labels = (
        found.grown.astype(np.uint16, copy=True) if total < 2**16 else found.grown.astype(np.int32)
    )
    new_grown[box] = labels
    region = np.concatenate([found.region, np.arange(n, total)])
    # Areas and the border of the regions involved, from the box (which holds all of them).
    involved = np.zeros(total, bool)
    involved[found.region[old]] = True
    involved[n:] = True
    ids = region[labels.astype(np.intp)]
    counts = np.bincount(ids[paper > 0], minlength=total)
    area = np.concatenate([found.area, np.zeros(k - 1, np.int64)])
    area[involved] = counts[involved]
    border = np.concatenate([found.on_border, np.zeros(k - 1, bool)])
    border[involved] = False
    edges = ((ids[0], y0 == 0), (ids[-1], y1 == h), (ids[:, 0], x0 == 0), (ids[:, -1], x1 == w))
    for edge, at_page in edges:
        if at_page:
            border[edge[involved[edge]]] = True
    border[0] = False
    return _Found(found.paper, new_grown, total, region, area, border)


def _lab(rgb: U8) -> npt.NDArray[np.float32]:
    """RGB uint8 [..., 3] -> CIELAB float32 [N, 3] (L 0..100), from OpenCV's 8-bit Lab."""
    if rgb.size == 0:  # OpenCV refuses empty images
        return np.zeros((0, 3), np.float32)
    # One row of N pixels: OpenCV pays a per-row overhead that N rows of one pixel make dominant.
    lab = cv2.cvtColor(rgb.reshape(1, -1, 3), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    lab[:, 0] *= 100.0 / 255.0
    lab[:, 1:] -= 128.0
    return lab


def _sums(
    ids: npt.NDArray[np.integer], values: npt.NDArray[np.floating] | None, n: int
) -> npt.NDArray[np.float64]:
    """Per id: the count (``values`` None) or the per-column sums of ``values`` [len(ids), C]."""
    if values is None:
        return np.bincount(ids, minlength=n).astype(np.float64)
    return np.stack([np.bincount(ids, weights=values[:, c], minlength=n) for c in range(values.shape[1])], 1)


def _region_ids(found: _Found, labels: npt.NDArray[np.integer]) -> npt.NDArray[np.integer]:
    """Region ids of ``labels`` (themselves unless a dropped closure merged some)."""
    return labels if found.identity else found.region[labels]


@dataclass(frozen=True)
class _Hinted:
    """Per region id: hint pixel count, whether its hints agree, their mean RGB; and per hint
    pixel its region id, its RGBA as a word and its flat index (None: not gathered)."""

    count: npt.NDArray[np.float64]
    agreed: npt.NDArray[np.bool_]
    color: npt.NDArray[np.float64]
    ids: npt.NDArray[np.integer]
    words: npt.NDArray[np.uint32]
    at: npt.NDArray[np.intp] | None


def _hint_colors(hints: U8, found: _Found, n: int, tolerance: float) -> _Hinted:
    """Per region id: hint pixel count, whether its hints agree (all within ``tolerance`` Lab
    units of their mean) and their mean RGB (and the hint pixels, :class:`_Hinted`).

    A stroke can paint millions of pixels in one color: per-pixel Lab arithmetic on them would
    cost ~1 us each. A region whose hint pixels are all one color agrees by definition, so the
    colors are compared as packed RGBA words first (a few integer passes), and only the pixels of
    regions holding two or more hint colors go through Lab.
    """
    h_count = np.zeros(n)
    agreed = np.zeros(n, bool)
    h_color = np.zeros((n, 3))
    # The alpha as a 0/1 mask read as bool: one array (a strided view's ravel, then > 0, took two).
    alpha = cv2.extractChannel(hints, 3)
    on = np.asarray(cv2.threshold(alpha, 0, 1, cv2.THRESH_BINARY, alpha)[1]).view(np.bool_).ravel()
    hinted = cv2.countNonZero(alpha)
    if not hinted:
        return _Hinted(h_count, agreed, h_color, np.zeros(0, np.intp), np.zeros(0, np.uint32), None)
    at: npt.NDArray[np.intp] | None = None
    flat_words = np.ascontiguousarray(hints).view(np.uint32).ravel()
    if hinted < on.size // HINT_INDEX_SHARE:
        # Few hinted pixels (points, thin strokes): one scan of the mask for their indices, then
        # two small gathers, instead of two compresses over the whole page.
        at = np.flatnonzero(on)
        h_ids = _region_ids(found, np.take(found.grown.ravel(), at))
        words = np.take(flat_words, at)
    else:
        # Boolean compress over the flat arrays: several times cheaper per pixel than indices.
        h_ids = _region_ids(found, found.grown.ravel()[on])
        words = flat_words[on]
    h_count = _sums(h_ids, None, n)
    first = np.zeros(n, np.uint32)
    first[h_ids] = words  # one of each region's hint colors (the last written)
    other = words != first[h_ids]
    mixed = _sums(h_ids[other], None, n) > 0
    agreed = (h_count > 0) & ~mixed
    h_color = first.view(np.uint8).reshape(n, 4)[:, :3].astype(np.float64)
    if mixed.any():
        sel = mixed[h_ids]
        m_ids, m_rgb = h_ids[sel], words[sel].view(np.uint8).reshape(-1, 4)[:, :3]
        m_count = _sums(m_ids, None, n)
        m_lab = _lab(m_rgb)
        m_mean = _sums(m_ids, m_lab, n) / np.maximum(m_count, 1.0)[:, None]
        far = np.linalg.norm(m_lab - m_mean[m_ids].astype(np.float32), axis=1) >= tolerance
        agreed |= mixed & (_sums(m_ids[far], None, n) == 0)
        m_color = _sums(m_ids, m_rgb.astype(np.float32), n) / np.maximum(m_count, 1.0)[:, None]
        h_color = np.where(mixed[:, None], m_color, h_color)
    return _Hinted(h_count, agreed, h_color, h_ids, words, at)


def _paper_around_open_figures(
    flat: U8,
    found: _Found,
    open_figure: npt.NDArray[np.bool_],
    color: npt.NDArray[np.float64],
    lab: npt.NDArray[np.float32],
    s_ids: npt.NDArray[np.integer],
    step: int,
    hints: U8 | None,
    background: npt.NDArray[np.bool_] | None,
) -> None:
    """In place: the pixels of ``open_figure`` regions (painted in their hints' ``color``) that the
    model left white (within ``OPEN_FIGURE_WHITE_DE`` of white, and nearer white than that color),
    in patches reaching the border or ``background``, become paper again.

    Decided on the statistics sample (every ``step``-th pixel, whose Lab colors ``lab`` and region
    ids ``s_ids`` are at hand) and blown up to full size: the model's colors are an upscale of a
    canvas of about that size, so the boundary it draws inside the region is no sharper than a
    sample. Along the lines the region's own edge stays exact; hinted pixels keep their color.
    """
    h, w = flat.shape[:2]
    sh, sw = -(-h // step), -(-w // step)
    white = _lab(np.array([PAPER], np.uint8))[0]
    # Near white first (most samples are not), then nearer white than the hint, on those only.
    at = np.flatnonzero(open_figure[s_ids])
    off = lab[at] - white
    to_white = np.einsum("ij,ij->i", off, off)
    near = to_white < OPEN_FIGURE_WHITE_DE**2
    at, to_white = at[near], to_white[near]
    if not at.size:
        return
    target = _lab(np.clip(np.rint(color), 0, 255).astype(np.uint8))
    off = lab[at] - target[s_ids[at]]
    small = np.zeros(sh * sw, np.uint8)
    small[at[to_white < np.einsum("ij,ij->i", off, off)]] = 1
    # Only the white that reaches the border (or the transparent background) is paper: a white
    # patch the model left inside the figure is the model's mistake, and takes the hint's color.
    count, labels = label_regions(small.reshape(sh, sw))
    edge = np.zeros(count, bool)
    for side in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        edge[side] = True
    if background is not None:
        edge[labels[background[::step, ::step]]] = True
    edge[0] = False
    if not edge.any():
        return
    small = edge[labels].view(np.uint8)
    big = cv2.resize(small, (sw * step, sh * step), interpolation=cv2.INTER_NEAREST)
    paper = np.asarray(big, np.uint8)[:h, :w] & open_figure[found.region][found.grown].view(np.uint8)
    if hints is not None:
        paper[cv2.extractChannel(hints, 3) > 0] = 0
    flat[paper.view(np.bool_)] = PAPER


def flatten_regions(
    rgb: U8,
    gray: U8,
    hints: U8 | None = None,
    *,
    gap: float = 15.0,
    min_area: int = 32,
    tolerance: float = 30.0,
    agree: float = 0.6,
    line_threshold: int = LINE_THRESHOLD,
    paper: bool = True,
    background: npt.NDArray[np.bool_] | None = None,
    draw_lines: bool = True,
) -> U8:
    """``rgb`` [H, W, 3] with each region of ``gray`` [H, W] painted in one color (see above).

    ``draw_lines=False`` returns the fills alone, running under the lines (the flats layer of a
    layered file, whose line art is a layer of its own).

    ``hints`` [H, W, 4] (RGB + alpha > 0 where hinted, as the user gave them): a region whose hints
    agree (all within ``tolerance`` Lab units of their mean) is painted in the hints' color, the
    color the user asked for, rather than in the model's; a region with disagreeing hints keeps
    the model's colors. ``paper``: unhinted regions touching the border or ``background`` [H, W]
    (True where the source is transparent) stay white, and hinted ones (open figures) take the
    hints' color except where the model left them white out to the border or ``background``.
    Vectorised over regions (per-region sums with ``bincount``), O(pixels).
    """
    shapes = [rgb.shape[:2], None if hints is None else hints.shape[:2]]
    shapes.append(None if background is None else background.shape)
    if any(s is not None and s != gray.shape for s in shapes):
        raise ValueError(f"flatten needs colors, lines, hints and background of one size, got {shapes}")
    found = _regions(gray, gap, min_area, line_threshold, GROW_PX)
    if found.n <= 1:
        return rgb
    hinted: _Hinted | None = None
    if hints is not None:
        hinted = _hint_colors(hints, found, found.n, tolerance)
        split = (hinted.count > 0) & ~hinted.agreed & (found.area >= min_area)
        split[0] = False  # the lines
        if split.any():
            cut = _split_necks(found, split, hinted, hints, SPLIT_GROW_PX, GROW_PX)
            if cut is not None:
                found, hinted = cut, _hint_colors(hints, cut, cut.n, tolerance)
    n = found.n
    # Region colors are statistics: on a large image a regular sample of ~1 MP gives the same
    # figures for any region big enough to matter, at a fraction of the cost (the model's colors
    # are an upscale of its canvas anyway). Counts stay exact, from the labelling. The sample
    # reads the paper only: the model's colors under the lines are a blend of both sides.
    step = max(1, int(np.sqrt(gray.size / STATS_PIXELS)))
    s_grown = found.grown[::step, ::step]
    s_ids = _region_ids(found, np.where(found.paper[::step, ::step] > 0, s_grown, 0).ravel())
    s_px = rgb[::step, ::step].reshape(-1, 3)
    lab = _lab(s_px)
    count = found.area.astype(np.float64)
    s_count = _sums(s_ids, None, n)
    # The model's color per region: the mean of the pixels near the region's mean (a trimmed
    # mean, robust to blotches), used when enough of the region is near it.
    mean = (_sums(s_ids, lab, n) / np.maximum(s_count, 1.0)[:, None]).astype(np.float32)
    # Squared distances as a row gather (np.take on axis 0, 5x faster than fancy indexing of rows)
    # and in-place arithmetic: 1.1 ms against 10 ms for 262144 samples, the same figures.
    d = np.take(mean, s_ids, axis=0)
    np.subtract(lab, d, out=d)
    d *= d
    close = (d[:, 0] + d[:, 1] + d[:, 2]) < tolerance**2
    n_close = _sums(s_ids[close], None, n)
    color = _sums(s_ids[close], s_px[close].astype(np.float32), n) / np.maximum(n_close, 1.0)[:, None]
    fill = (n_close >= agree * s_count) & (n_close > 0) & (count >= min_area)
    h_count = np.zeros(n)
    if hinted is not None:
        h_count, agreed = hinted.count, hinted.agreed
        color = np.where(agreed[:, None], hinted.color, color)
        # Hinted regions: the hints' color when they agree, else the model's colors untouched.
        fill = np.where(h_count > 0, agreed & (count >= min_area), fill)
    open_figure = np.zeros(n, bool)
    if paper:
        outside = found.on_border.copy()
        if background is not None:
            ids = found.grown[background][found.paper[background] > 0]
            outside |= np.bincount(_region_ids(found, ids), minlength=n)[:n] > 0
        # A hinted region on the paper: a figure drawn with open strokes (a leaf, a petal),
        # whose inside is one region with the paper around it. It takes the hint's color but
        # where the model left it white out to the border (_paper_around_open_figures).
        open_figure = outside & (h_count > 0) & fill
        open_figure[0] = False
        outside &= h_count == 0
        color[outside] = PAPER
        fill |= outside
    fill[0] = False
    # One lookup paints every pixel: RGBA per label packed in a uint32, alpha 255 = "keep the
    # model's color here" (label 0, unfilled regions); merged labels take their region's entry.
    table = np.zeros((n, 4), np.uint8)
    table[:, :3] = np.clip(np.rint(color), 0, 255)
    table[:, 3] = np.where(fill, 0, 255)
    packed = table.view(np.uint32).ravel()[found.region]  # merged labels: their region's entry
    # Fancy indexing casts the uint16 labels to intp a chunk at a time; np.take made a full int64
    # copy of them first (33 MB at 2048 px: 9.3 against 7.9 ms alone, 20-37 ms in the flow, where
    # the copy's fresh pages fault).
    painted = packed[found.grown].view(np.uint8).reshape(*gray.shape, 4)
    flat = np.asarray(cv2.cvtColor(painted, cv2.COLOR_RGBA2RGB), dtype=np.uint8)
    cv2.copyTo(rgb, cv2.extractChannel(painted, 3), flat)
    if open_figure.any():
        _paper_around_open_figures(flat, found, open_figure, color, lab, s_ids, step, hints, background)
    if not draw_lines:
        return flat
    # The fills ran under the lines too: draw the sketch's lines back over them (multiply), in
    # place, the gray as RGB written over the lookup's buffer (no longer needed).
    lines = painted.reshape(-1)[: flat.size].reshape(flat.shape)
    cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB, lines)
    cv2.multiply(flat, lines, flat, scale=1.0 / 255.0)
    return flat
