"""Line-bounded regions with the gaps in the lines closed, the way paint programs' fills close them.

A gap is where a stroke stops short: its line has an *end*. The line mask is thinned to a
skeleton (Zhang-Suen, as lookup tables over OpenCV's 3x3 neighbourhood codes), a skeleton pixel
with one neighbour (or two touching ones) is an end, and its outward direction is read from the
skeleton around it. Two ends within ``max_gap`` px that face each other are joined by a segment;
an end left over is joined to the first line its direction meets within ``max_gap``. A closure
that would cut off a region below ``min_cut`` px (a pocket at a line's end, a short stroke's
ends joined to each other) is dropped again: it is a closure the drawing did not mean.

The skeleton is taken on the line mask reduced to a long side of about :data:`WORK_SIDE` px (any
line pixel in a block makes the block line), so its cost stays bounded whatever the page size;
the regions themselves are labelled at full resolution, so thin regions survive. A gap narrower
than the reduction factor can vanish in the reduction and stay open (at 3000 px: under ~6 px).

numpy + OpenCV only.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from colorizer.imaging.components import label_regions

U8 = npt.NDArray[np.uint8]
I32 = npt.NDArray[np.int32]
#: Region labels: uint16 where they fit (OpenCV dilates and histograms it), else int32.
Labels = npt.NDArray[np.uint16] | npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]

#: The skeleton is found on the line mask reduced to about this long side (px).
WORK_SIDE = 1024
#: Most thinning passes (each peels one pixel off every side of a stroke at the reduced size):
#: strokes thicker than twice this keep a core, whose outline yields no ends.
MAX_THINNING = 12
#: Thinning stops once a pass removes fewer pixels than this share of what is left: Zhang-Suen
#: keeps nibbling a pixel per pass off two-pixel diagonals long after the strokes are thin.
THINNING_DONE = 1e-3
#: Two ends are joined only when each one's outward direction is within ~70 degrees of the other.
MIN_FACING = 0.33
#: At most this much of a stroke's tip (reduced px) lies beyond its skeleton's end.
MAX_TIP = 8
#: The outward direction at an end is read this many skeleton steps back (reduced px).
DIRECTION_STEPS = 5

# Neighbour bits of the 3x3 code, clockwise from north (Zhang-Suen's P2..P9).
_CODE_KERNEL = np.array([[128, 1, 2], [64, 0, 4], [32, 16, 8]], np.float32)


def _luts() -> tuple[U8, U8, U8]:
    """(delete in sub-pass 1, delete in sub-pass 2, is an end) per 8-neighbour code."""
    codes = np.arange(256)
    p = (codes[:, None] >> np.arange(8)) & 1  # p[:, 0] = P2 (north) ... p[:, 7] = P9 (north-west)
    b = p.sum(axis=1)
    a = ((p == 0) & (np.roll(p, -1, axis=1) == 1)).sum(axis=1)
    base = (b >= 2) & (b <= 6) & (a == 1)
    n, e, s, w = p[:, 0], p[:, 2], p[:, 4], p[:, 6]
    first = base & (n * e * s == 0) & (e * s * w == 0)
    second = base & (n * e * w == 0) & (n * s * w == 0)
    end = (a == 1) & (b <= 2)
    return tuple(x.astype(np.uint8) for x in (first, second, end))  # type: ignore[return-value]


_DELETE_1, _DELETE_2, _END = _luts()


def _codes(mask: U8) -> U8:
    return np.asarray(
        cv2.filter2D(mask, cv2.CV_8U, _CODE_KERNEL, borderType=cv2.BORDER_CONSTANT), dtype=np.uint8
    )


def thin(mask: U8, max_passes: int = MAX_THINNING) -> U8:
    """The Zhang-Suen skeleton of a 0/1 mask (at most ``max_passes`` double passes).

    The first passes peel every stroke and run on the whole mask (one filter2D + LUT each). Once
    a double pass deletes fewer than :data:`SPARSE_BELOW` of the pixels, the rest run sparse: a
    pixel's verdict in a sub-pass changes only if a pixel of its 3x3 changed since it was last
    judged, i.e. in the last two sub-passes, so only the pixels next to those deletions are
    judged again. Same skeleton, bit for bit; at 1024 px the tail passes cost ~0.1 ms, not ~3.
    """
    h, w = mask.shape
    # One zero pixel of padding: every neighbour of a real pixel is then a valid flat index.
    padded = cv2.copyMakeBorder(np.asarray(mask, np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    skel: U8 = np.asarray(padded, np.uint8)
    left = cv2.countNonZero(skel)
    recent: list[npt.NDArray[np.intp]] = []  # flat indices deleted in the last two sub-passes
    sparse = False
    for _ in range(max_passes):
        changed = 0
        for lut in (_DELETE_1, _DELETE_2):
            if sparse:
                gone = _judge(skel, _around(skel, recent, w + 2), lut, w + 2)
                skel.reshape(-1)[gone] = 0
                count = len(gone)
            else:
                dense: U8 = np.asarray(cv2.bitwise_and(cv2.LUT(_codes(skel), lut), skel))
                cv2.subtract(skel, dense, skel)
                count = cv2.countNonZero(dense)
                # Indices only for a small pass: they seed the sparse passes that may follow.
                small = changed + count < SPARSE_BELOW * skel.size
                gone = _nonzero(dense) if small else np.zeros(0, np.intp)
            recent = [*recent[-1:], gone]
            changed += count
        left -= changed
        if changed <= THINNING_DONE * left:
            break
        # Sparse from here on if this pass was small: both its sub-passes' deletions are known.
        sparse = sparse or changed < SPARSE_BELOW * skel.size
    return np.ascontiguousarray(skel[1 : h + 1, 1 : w + 1])


#: Thinning runs sparse (see :func:`thin`) after a double pass that deletes under this share of pixels.
SPARSE_BELOW = 0.01
#: Flat-index offsets of the 8 neighbours, in the bit order of ``_CODE_KERNEL`` (N, NE, E, SE,
#: S, SW, W, NW = bits 0..7), for a row stride of 1; the row stride is added per image.
_NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _nonzero(mask: U8) -> npt.NDArray[np.intp]:
    """Flat indices of a sparse mask's nonzero pixels (findNonZero: several times np.flatnonzero's speed)."""
    pts = cv2.findNonZero(mask)
    if pts is None:
        return np.zeros(0, np.intp)
    xy = pts.reshape(-1, 2).astype(np.intp)
    return np.asarray(xy[:, 1] * mask.shape[1] + xy[:, 0])


def _around(skel: U8, recent: list[npt.NDArray[np.intp]], stride: int) -> npt.NDArray[np.intp]:
    """The skeleton pixels (flat indices, some more than once) in the 3x3 of any pixel in ``recent``."""
    near = np.concatenate([np.concatenate(recent) + (dy * stride + dx) for dy, dx in ((0, 0), *_NEIGHBOURS)])
    return near[skel.reshape(-1)[near] > 0]


def _judge(skel: U8, at: npt.NDArray[np.intp], lut: U8, stride: int) -> npt.NDArray[np.intp]:
    """Of the pixels ``at`` (flat indices of a padded 0/1 mask), those ``lut`` deletes."""
    flat = skel.reshape(-1)
    code = np.zeros(len(at), np.uint8)
    for bit, (dy, dx) in enumerate(_NEIGHBOURS):
        code |= flat[at + (dy * stride + dx)] << bit
    return np.unique(at[lut[code] > 0])  # the pixels judged twice, once


@dataclass(frozen=True)
class Ends:
    """Line ends: positions [N, 2] (x, y) and unit outward directions [N, 2], in mask pixels."""

    xy: F64
    out: F64


def line_ends(skel: U8) -> Ends:
    """The ends of a skeleton (a pixel with one neighbour, or two touching ones) and where they point."""
    end = cv2.bitwise_and(cv2.LUT(_codes(skel), _END), skel)
    pts = cv2.findNonZero(end)
    if pts is None:
        return Ends(np.zeros((0, 2)), np.zeros((0, 2)))
    xy = pts.reshape(-1, 2).astype(np.intp)
    # Outward = from where the skeleton is a few steps back along the stroke towards the end:
    # walk it from every end at once (never back onto a pixel walked), a window would also see
    # any other stroke nearby.
    h, w = skel.shape
    steps = np.array([(0, -1), (1, 0), (0, 1), (-1, 0), (1, -1), (1, 1), (-1, 1), (-1, -1)], np.intp)
    at = xy.copy()
    seen = [at.copy()]
    for _ in range(DIRECTION_STEPS):
        nxt = at[:, None, :] + steps[None]  # [N, 8, 2]
        x = np.clip(nxt[..., 0], 0, w - 1)
        y = np.clip(nxt[..., 1], 0, h - 1)
        ok = (skel[y, x] > 0) & (nxt[..., 0] == x) & (nxt[..., 1] == y)
        for old in seen:
            ok &= ~((nxt[..., 0] == old[:, None, 0]) & (nxt[..., 1] == old[:, None, 1]))
        move = ok.any(axis=1)
        pick = ok.argmax(axis=1)
        at = np.where(move[:, None], nxt[np.arange(len(at)), pick], at)
        seen.append(at.copy())
    out = (xy - at).astype(np.float64)
    norm = np.linalg.norm(out, axis=1)
    keep = norm > 1e-6  # a lone dot has no direction
    return Ends(xy[keep].astype(np.float64), out[keep] / norm[keep, None])


def _pairs_within(xy: F64, radius: float) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """All index pairs i < j with |xy_i - xy_j| <= radius, by a grid of radius-sized cells."""
    if len(xy) < 2:
        empty = np.zeros(0, np.intp)
        return empty, empty
    cell = np.floor(xy / radius).astype(np.int64)
    width = int(cell[:, 0].max()) + 3
    key = (cell[:, 1] + 1) * width + cell[:, 0] + 1
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    firsts, seconds = [], []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            target = key + dy * width + dx
            lo = np.searchsorted(sorted_key, target, "left")
            hi = np.searchsorted(sorted_key, target, "right")
            n = hi - lo
            i = np.repeat(np.arange(len(xy)), n)
            offsets = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
            j = order[np.repeat(lo, n) + offsets]
            firsts.append(i)
            seconds.append(j)
    i, j = np.concatenate(firsts), np.concatenate(seconds)
    near = (i < j) & (np.linalg.norm(xy[i] - xy[j], axis=1) <= radius)
    return i[near], j[near]


def _rays(
    ends: Ends, lines: U8, length: float
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Samples 1..length px along every end's outward direction: x, y [N, T] and "on a line"."""
    h, w = lines.shape
    t = np.arange(1.0, max(length, 1.0) + 1.0)
    px = np.rint(ends.xy[:, 0, None] + ends.out[:, 0, None] * t[None]).astype(np.intp)
    py = np.rint(ends.xy[:, 1, None] + ends.out[:, 1, None] * t[None]).astype(np.intp)
    inside = (px >= 0) & (px < w) & (py >= 0) & (py < h)
    on = np.zeros(px.shape, bool)
    on[inside] = lines[py[inside], px[inside]] > 0
    return px, py, on


def join_ends(ends: Ends, lines: U8, max_gap: float) -> F64:
    """Closure segments [M, 4] (x0, y0, x1, y1): facing end pairs, nearest first, each end once;
    then every end left over to the first line pixel of ``lines`` its direction meets.

    Distances are between the strokes' tips, not their skeletons' ends: thinning leaves the end
    about half a stroke width inside the stroke, so each end's remaining tip (how far its ray
    runs on the line) is taken off.
    """
    if len(ends.xy) == 0:
        return np.zeros((0, 4))
    reach = max_gap + MAX_TIP
    px, py, on = _rays(ends, lines, reach)
    # Samples 1..tip are on the stroke, tip + 1 is not: its edge is half-way between.
    tip = np.where((~on).any(axis=1), (~on).argmax(axis=1), on.shape[1]) + 0.5
    i, j = _pairs_within(ends.xy, reach)
    d = ends.xy[j] - ends.xy[i]
    dist = np.linalg.norm(d, axis=1)
    u = d / np.maximum(dist, 1e-9)[:, None]
    facing = ((ends.out[i] * u).sum(axis=1) > MIN_FACING) & ((ends.out[j] * -u).sum(axis=1) > MIN_FACING)
    gap = dist - tip[i] - tip[j]
    ok = facing & (gap <= max_gap)
    i, j, gap = i[ok], j[ok], gap[ok]
    used = np.zeros(len(ends.xy), bool)
    segments: list[tuple[float, float, float, float]] = []
    for k in np.argsort(gap, kind="stable"):  # greedy: a few hundred candidates at most
        a, b = int(i[k]), int(j[k])
        if not (used[a] or used[b]):
            used[a] = used[b] = True
            segments.append((*ends.xy[a], *ends.xy[b]))
    if max_gap >= 2:
        # The ray must leave the line first (paper, then line): else the end touches a line already.
        left = np.cumsum(~on, axis=1) > 0
        hit = on & left
        first = hit.argmax(axis=1)
        has = hit.any(axis=1) & ~used & (first + 0.5 - tip <= max_gap)
        for row in np.nonzero(has)[0]:
            k = first[row]
            segments.append((*ends.xy[row], float(px[row, k]), float(py[row, k])))
    return np.asarray(segments, np.float64).reshape(-1, 4)


def _reduce(lines: U8, factor: int) -> U8:
    """0/1 mask, ``factor`` x smaller: a block with any line pixel is line."""
    if factor == 1:
        return lines
    h, w = lines.shape
    if factor == 2 and not (h % 2 or w % 2):
        # INTER_AREA at 2x is the block mean (OpenCV's fast path): of 0/255 values, > 0 for any
        # line pixel. At other factors it takes the general path, 6.2 ms at 3000 x 2700 against
        # 2.9 ms for the strided ORs below (0.3 ms here).
        small = cv2.resize(lines * np.uint8(255), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        return np.asarray(small > 0, dtype=np.uint8)
    # The OR of the factor^2 strided views (each block's pixel dy, dx): no full-size temporary.
    out = np.zeros((-(-h // factor), -(-w // factor)), np.uint8)
    for dy, dx in itertools.product(range(factor), range(factor)):
        part = lines[dy::factor, dx::factor]
        view = out[: part.shape[0], : part.shape[1]]
        np.bitwise_or(view, part, out=view)
    return out


def closures(lines: U8, max_gap: float) -> tuple[F64, int]:
    """Closure segments [M, 4] in full-size pixels for the 0/1 line mask ``lines``, and the
    reduction factor they were found at (their thickness when drawn)."""
    factor = max(1, -(-max(lines.shape) // WORK_SIDE))
    small = _reduce(lines, factor)
    ends = line_ends(thin(small))
    segs = join_ends(ends, small, max_gap / factor)
    # Reduced pixel (x, y) covers full pixels x*f .. x*f + f - 1: its center.
    return segs * factor + (factor - 1) / 2.0, factor


def _draw(mask: U8, segs: F64, thickness: int, value: int) -> None:
    for x0, y0, x1, y1 in np.rint(segs).astype(np.int32):
        cv2.line(mask, (int(x0), int(y0)), (int(x1), int(y1)), value, thickness, cv2.LINE_8)


def _side_labels(labels: Labels, segs: F64, offset: float) -> npt.NDArray[np.int32]:
    """[M, 6]: the labels beside each segment, at 1/4, 1/2 and 3/4 of it, ``offset`` px either side."""
    h, w = labels.shape
    a, b = segs[:, None, :2], segs[:, None, 2:]
    d = b - a
    n = np.stack([-d[..., 1], d[..., 0]], -1) / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
    t = np.array([0.25, 0.5, 0.75])[None, :, None]
    mid = a + d * t
    pts = np.concatenate([mid + n * offset, mid - n * offset], axis=1)
    x = np.clip(np.rint(pts[..., 0]), 0, w - 1).astype(np.intp)
    y = np.clip(np.rint(pts[..., 1]), 0, h - 1).astype(np.intp)
    return labels[y, x].astype(np.intp)


@dataclass(frozen=True)
class Regions:
    """Labelled paper (0 = line, closure or nothing): labels [H, W] (:data:`Labels`) below
    ``count``, and per label: its region id ``region`` (the label itself, or the label it merged
    into where a closure was dropped again), and per region id its area and whether it touches
    the image border (0 for ids merged away); the closures kept [M, 4]; ``paper`` [H, W], 255
    where ``labels`` is not 0 (the line mask's complement with every closure drawn)."""

    labels: Labels
    count: int
    region: npt.NDArray[np.intp]
    area: npt.NDArray[np.int64]
    on_border: npt.NDArray[np.bool_]
    closures: F64
    paper: U8


def _wraps_silently() -> bool:
    """Whether this OpenCV's 16-bit labelling wraps past 65535 labels instead of raising (before
    the check OpenCV added in 2025, issue 27568): a 1 x 131072 row of 65536 dots tells."""
    row = np.zeros((1, 2**17), np.uint8)
    row[0, ::2] = 1
    try:
        label_regions(row, cv2.CV_16U)
    except cv2.error:
        return False
    return True


#: Label straight into uint16 where OpenCV refuses (raises) rather than wraps an overflow.
_LABEL_16U = not _wraps_silently()


def _label(paper: U8) -> tuple[Labels, int, npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    # Plain labelling, then areas by histogram: OpenCV's labelling with stats costs twice as much.
    # uint16 where the labels fit: half the memory for every later pass (lookups, dilation);
    # labelling into it directly saves the int32 image and its conversion (10 ms at 2048 px).
    labels: Labels | None = None
    if _LABEL_16U:
        try:
            n, found16 = label_regions(paper, cv2.CV_16U)
            labels = np.asarray(found16, np.uint16)
        except cv2.error:  # over 65535 labels (provisional ones included): int32 below
            labels = None
    if labels is None:
        n, found = label_regions(paper)
        labels = np.asarray(found, np.uint16) if n < 2**16 else np.asarray(found, np.int32)
    if labels.dtype == np.uint16:
        area = cv2.calcHist([labels], [0], None, [n], [0, n]).ravel().astype(np.int64)
    else:
        area = np.bincount(labels.ravel(), minlength=n).astype(np.int64)
    border = np.zeros(n, bool)
    for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        border[edge] = True
    return labels, int(n), area, border


def _merge(n: int, pairs: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Per label, the smallest label it is joined to through ``pairs`` [K, 2] (connected sets)."""
    region = np.arange(n)
    if len(pairs) == 0:
        return region
    a, b = pairs[:, 0], pairs[:, 1]
    while True:  # min-label propagation over the few pairs: a handful of rounds
        low = np.minimum(region[region[a]], region[region[b]])
        before = region.copy()
        np.minimum.at(region, a, low)
        np.minimum.at(region, b, low)
        region = region[region]
        if np.array_equal(region, before):
            return region


def closed_regions(lines: U8, max_gap: float, min_cut: int) -> Regions:
    """The 4-connected paper regions of the 0/1 line mask ``lines`` with its gaps up to
    ``max_gap`` px closed (see the module docstring); ``max_gap`` < 1: no closing."""
    segs, thickness = closures(lines, max_gap) if max_gap >= 1 else (np.zeros((0, 4)), 1)
    # The paper mask with the closures drawn into it as line: one full-size array, not a copy of
    # the lines plus its complement.
    paper = np.asarray(cv2.threshold(lines, 0, 255, cv2.THRESH_BINARY_INV)[1], dtype=np.uint8)
    _draw(paper, segs, thickness, 0)
    labels, n, area, border = _label(paper)
    region = np.arange(n)
    if len(segs):
        beside = _side_labels(labels, segs, thickness / 2.0 + 1.5)
        tiny = ((area[beside] < min_cut) & (beside > 0)).any(axis=1)
        if tiny.any():
            # Without those closures the regions on their two sides are one: merge their ids
            # (no second labelling; the closure's own pixels are line-like and grown over).
            pairs = [p for row in beside[tiny] for p in _row_pairs(row)]
            region = _merge(n, np.asarray(pairs, np.intp).reshape(-1, 2))
            area = np.bincount(region, weights=area, minlength=n).astype(np.int64)
            border = np.bincount(region, weights=border, minlength=n) > 0
            segs = segs[~tiny]
    border[0] = False
    return Regions(labels, n, region, area, border, segs, paper)


def _row_pairs(row: npt.NDArray[np.intp]) -> list[tuple[int, int]]:
    """The labels beside one dropped closure, chained into pairs (0, on a line, left out)."""
    ids = [int(v) for v in row if v]
    return list(itertools.pairwise(ids))
