"""Hints in original-sketch coordinates -> the model's ``hint`` tensor at 1/4 canvas resolution.

The hint grid has one cell per ``HINT_SCALE`` x ``HINT_SCALE`` canvas pixels. Rules (they match
the public .proto):

* a point of radius 0 sets exactly the cell it falls in; a point of radius r also sets every
  cell whose center is within r (original pixels, scaled to the canvas) of it;
* a stroke sets every cell its centerline passes through, and every cell whose center lies
  under its round brush of ``width``;
* a hint image sets every cell that holds the center of a pixel with alpha > 0 (the mean color
  of those pixels), or whose own center falls on such a pixel (for sketches scaled up);
* the hint image is painted first, then strokes, then points: a later hint overwrites an earlier.

Only cells that overlap the sketch's content (not its paper padding) are painted; a point on the
far edge of the sketch belongs to the last content cell.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from colorizer import contract
from colorizer.encoding import encode_hint
from colorizer.imaging.canvas import Canvas
from colorizer.imaging.errors import ImageInputError, LimitExceededError
from colorizer.imaging.kernels import disk
from colorizer.imaging.limits import InputLimits

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
RGB = tuple[int, int, int]

_CELL = contract.HINT_SCALE
# Strokes are rasterized at an odd number of sub-pixels per cell, so that each cell has a
# sub-pixel exactly at its center to sample the brush at.
_SUB = 5
_SHIFT = 8  # fixed-point bits for OpenCV's sub-pixel drawing
#: A stroke's brush reaching up to this many sub-pixels from its centerline is found by a dilation.
_DILATE_MAX_REACH = 8.0



@dataclass(frozen=True)
class PointHint:
    """A round dab of color at (``x``, ``y``) original pixels; radius 0 = one hint cell."""

    x: float
    y: float
    rgb: RGB
    radius: float = 0.0


@dataclass(frozen=True)
class StrokeHint:
    """A polyline of original-pixel ``points`` drawn with a round brush ``width`` pixels wide."""

    points: tuple[tuple[float, float], ...]
    width: float
    rgb: RGB


def build_hint_map(
    canvas: Canvas,
    points: Sequence[PointHint],
    strokes: Sequence[StrokeHint],
    hint_rgba: U8 | None,
    limits: InputLimits,
) -> tuple[F32, int]:
    """Validate the hints and build the ``hint`` tensor [4, size/4, size/4].

    Returns the tensor (made with :func:`colorizer.encoding.encode_hint`) and the number of hinted
    cells. Raises :class:`ImageInputError` (or :class:`LimitExceededError`) naming the field.
    """
    validate_hints(canvas, points, strokes, hint_rgba, limits)
    grid = _Grid(canvas)
    if hint_rgba is not None:
        grid.paint_image(hint_rgba)
    for stroke in strokes:
        grid.paint_stroke(stroke)
    for point in points:
        grid.paint_point(point)
    return encode_hint(grid.colors, grid.mask), int(grid.mask.sum())


def validate_hints(
    canvas: Canvas,
    points: Sequence[PointHint],
    strokes: Sequence[StrokeHint],
    hint_rgba: U8 | None,
    limits: InputLimits,
) -> None:
    """Raise :class:`ImageInputError` for the first invalid field, else return None."""
    if len(points) > limits.max_points:
        raise LimitExceededError(
            f"points: {len(points)} point hints exceed the limit of {limits.max_points} (max_points)"
        )
    if len(strokes) > limits.max_strokes:
        raise LimitExceededError(
            f"strokes: {len(strokes)} stroke hints exceed the limit of {limits.max_strokes} (max_strokes)"
        )
    for i, p in enumerate(points):
        _check_xy(canvas, f"points[{i}]", p.x, p.y)
        _check_rgb(f"points[{i}].color", p.rgb)
        if not (math.isfinite(p.radius) and 0.0 <= p.radius <= limits.max_radius):
            raise ImageInputError(
                f"points[{i}].radius={p.radius:g} must be between 0 and {limits.max_radius:g}"
            )
    max_width = 2.0 * limits.max_radius
    for i, s in enumerate(strokes):
        if not s.points:
            raise ImageInputError(f"strokes[{i}].points: a stroke needs at least 1 point")
        if len(s.points) > limits.max_stroke_points:
            raise LimitExceededError(
                f"strokes[{i}].points: {len(s.points)} points exceed the limit of "
                f"{limits.max_stroke_points} (max_stroke_points)"
            )
        # Vectorised: a request may carry a million stroke points; only a bad one is re-checked
        # point by point, for its message.
        xy = np.asarray(s.points, dtype=np.float64).reshape(-1, 2)
        inside = np.isfinite(xy) & (xy >= 0.0) & (xy <= (canvas.orig_w, canvas.orig_h))
        if not inside.all():
            j = int(np.argmin(inside.all(axis=1)))
            _check_xy(canvas, f"strokes[{i}].points[{j}]", *s.points[j])
        if not (math.isfinite(s.width) and 0.0 < s.width <= max_width):
            raise ImageInputError(
                f"strokes[{i}].width={s.width:g} must be > 0 and at most {max_width:g} (2 x max_radius)"
            )
        _check_rgb(f"strokes[{i}].color", s.rgb)
    if hint_rgba is not None and (
        hint_rgba.dtype != np.uint8 or hint_rgba.shape != (canvas.orig_h, canvas.orig_w, 4)
    ):
        raise ImageInputError(
            f"hint_image: must be RGBA {canvas.orig_w}x{canvas.orig_h} like the sketch, "
            f"got {hint_rgba.dtype} {hint_rgba.shape}"
        )


def _check_xy(canvas: Canvas, field: str, x: float, y: float) -> None:
    for name, value, high, what in (("x", x, canvas.orig_w, "width"), ("y", y, canvas.orig_h, "height")):
        if not math.isfinite(value):
            raise ImageInputError(f"{field}.{name}={value} is not a finite number")
        if not 0.0 <= value <= high:
            raise ImageInputError(f"{field}.{name}={value:g} is outside the 0..{high} sketch {what}")


def _check_rgb(field: str, rgb: Sequence[int]) -> None:
    if len(rgb) != 3:
        raise ImageInputError(f"{field}: needs 3 channels (r, g, b), got {len(rgb)}")
    for name, value in zip("rgb", rgb, strict=True):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value <= 255:
            raise ImageInputError(f"{field}: {name}={value} is outside 0..255")


class _Grid:
    """The hint grid being painted: colors [g, g, 3] uint8 RGB and mask [g, g] bool."""

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        g = canvas.size // _CELL
        self.g = g
        self.colors = np.zeros((g, g, 3), dtype=np.uint8)
        self.mask = np.zeros((g, g), dtype=bool)
        # Cells overlapping the content rectangle, [lo, hi) per axis.
        self.rows = (canvas.top // _CELL, -(-(canvas.top + canvas.content_h) // _CELL))
        self.cols = (canvas.left // _CELL, -(-(canvas.left + canvas.content_w) // _CELL))

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        """(row, col) of the cell holding original point (x, y)."""
        cx, cy = self.canvas.to_canvas(x, y)
        # Clamped so that x = width (the right edge) stays in the content, not the padding.
        row = min(max(int(cy // _CELL), self.rows[0]), self.rows[1] - 1)
        col = min(max(int(cx // _CELL), self.cols[0]), self.cols[1] - 1)
        return row, col

    def paint_point(self, p: PointHint) -> None:
        row, col = self.cell_of(p.x, p.y)
        self.mask[row, col] = True
        self.colors[row, col] = p.rgb
        if p.radius <= 0:
            return
        cx, cy = self.canvas.to_canvas(p.x, p.y)
        r = p.radius * self.canvas.scale
        (r0, r1), (c0, c1) = self.rows, self.cols
        # Only the cells in the dab's bounding box are measured.
        r0, r1 = max(r0, math.floor((cy - r) / _CELL)), min(r1, math.ceil((cy + r) / _CELL) + 1)
        c0, c1 = max(c0, math.floor((cx - r) / _CELL)), min(c1, math.ceil((cx + r) / _CELL) + 1)
        if r0 >= r1 or c0 >= c1:
            return
        ys = (np.arange(r0, r1) + 0.5) * _CELL - cy
        xs = (np.arange(c0, c1) + 0.5) * _CELL - cx
        inside = ys[:, None] ** 2 + xs[None, :] ** 2 <= r * r
        self.mask[r0:r1, c0:c1] |= inside
        self.colors[r0:r1, c0:c1][inside] = p.rgb

    def paint_stroke(self, s: StrokeHint) -> None:
        cv = self.canvas
        xy = np.asarray(s.points, dtype=np.float64).reshape(-1, 2)
        canvas_pts = np.stack(
            [cv.left + xy[:, 0] * (cv.content_w / cv.orig_w), cv.top + xy[:, 1] * (cv.content_h / cv.orig_h)],
            axis=1,
        )
        if len(canvas_pts) == 1:  # a zero-length segment draws a round dab
            canvas_pts = np.concatenate([canvas_pts, canvas_pts])
        half = s.width * self.canvas.scale / 2
        (r0, r1), (c0, c1) = self.rows, self.cols
        lo = np.floor((canvas_pts.min(axis=0) - half) / _CELL).astype(int) - 1
        hi = np.ceil((canvas_pts.max(axis=0) + half) / _CELL).astype(int) + 1
        c0, r0 = max(c0, int(lo[0])), max(r0, int(lo[1]))
        c1, r1 = min(c1, int(hi[0])), min(r1, int(hi[1]))
        if r0 >= r1 or c0 >= c1:
            return
        # Sub-pixel k of the local buffer covers [k, k+1) sub-units; OpenCV puts pixel centers on
        # integers, hence the -0.5.
        sub = (canvas_pts / _CELL - (c0, r0)) * _SUB - 0.5
        fixed = [np.round(sub * (1 << _SHIFT)).astype(np.int32)]
        shape = ((r1 - r0) * _SUB, (c1 - c0) * _SUB)
        path = np.zeros(shape, dtype=np.uint8)
        cv2.polylines(path, fixed, False, 1, thickness=1, lineType=cv2.LINE_8, shift=_SHIFT)
        # Cells the path passes through: the max over each cell's sub-pixels (a dilation anchored
        # at the cell's corner, read at the corners; 3x cheaper than numpy's max over two axes).
        block = np.ones((_SUB, _SUB), np.uint8)
        hit = cv2.dilate(path, block, anchor=(0, 0), borderValue=0)[::_SUB, ::_SUB] > 0
        # The brush: cell centers within half the width of the centerline, the same test either
        # way: a dilation by the disk for a narrow brush (its cost grows with the width), else a
        # distance transform (its cost does not; drawing thick polylines grows with width x length).
        reach = half / _CELL * _SUB
        if reach <= _DILATE_MAX_REACH:
            brush = cv2.dilate(path, disk(reach), borderValue=0) > 0
        else:
            brush = cv2.distanceTransform(1 - path, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= reach
        hit |= brush[_SUB // 2 :: _SUB, _SUB // 2 :: _SUB]
        self.mask[r0:r1, c0:c1] |= hit
        self.colors[r0:r1, c0:c1][hit] = s.rgb
        for x, y in s.points[:: max(1, len(s.points) - 1)]:  # end points on the far edge, see cell_of
            row, col = self.cell_of(x, y)
            self.mask[row, col] = True
            self.colors[row, col] = s.rgb

    def paint_image(self, rgba: U8) -> None:
        cv = self.canvas
        g = self.g
        # 1. Every hinted pixel's center votes for the cell it falls in (sketches scaled down).
        # Cell indices grow with x and y, so each cell's pixels form one block; summing block rows
        # one slice at a time keeps temporaries small (a 4096^2 layer stays fast).
        alpha = rgba[:, :, 3]
        if alpha.any():
            x_cells = (cv.left + (np.arange(cv.orig_w) + 0.5) * (cv.content_w / cv.orig_w)) // _CELL
            y_cells = (cv.top + (np.arange(cv.orig_h) + 0.5) * (cv.content_h / cv.orig_h)) // _CELL
            x_cells, y_cells = np.minimum(x_cells, g - 1), np.minimum(y_cells, g - 1)
            x_starts = np.flatnonzero(np.diff(x_cells, prepend=-1))
            y_bounds = [*np.flatnonzero(np.diff(y_cells, prepend=-1)).tolist(), cv.orig_h]
            # Per cell row: [W, 4] sums of premultiplied RGB and of the hinted-pixel count.
            row_sums = np.empty((len(y_bounds) - 1, cv.orig_w, 4), dtype=np.uint64)
            for i, (y0, y1) in enumerate(itertools.pairwise(y_bounds)):
                band = rgba[y0:y1]
                hinted = band[:, :, 3] > 0
                row_sums[i, :, :3] = (band[:, :, :3] * hinted[:, :, None]).sum(axis=0, dtype=np.uint64)
                row_sums[i, :, 3] = hinted.sum(axis=0, dtype=np.uint64)
            block = np.add.reduceat(row_sums, x_starts, axis=1)
            sums, counts = block[:, :, :3], block[:, :, 3]
            voted = counts > 0
            # Round half up in integers: floor(sum / count + 1/2).
            mean = ((2 * sums + counts[:, :, None]) // np.maximum(2 * counts, 1)[:, :, None]).astype(np.uint8)
            rows_idx, cols_idx = np.ix_(
                y_cells[y_bounds[:-1]].astype(np.intp), x_cells[x_starts].astype(np.intp)
            )
            block_colors = self.colors[rows_idx, cols_idx]
            block_colors[voted] = mean[voted]
            self.colors[rows_idx, cols_idx] = block_colors
            self.mask[rows_idx, cols_idx] |= voted
        # 2. Every content cell whose center lands on a hinted pixel (sketches scaled up).
        (r0, r1), (c0, c1) = self.rows, self.cols
        oy = np.floor(((np.arange(r0, r1) + 0.5) * _CELL - cv.top) * cv.orig_h / cv.content_h).astype(int)
        ox = np.floor(((np.arange(c0, c1) + 0.5) * _CELL - cv.left) * cv.orig_w / cv.content_w).astype(int)
        ok_y, ok_x = (oy >= 0) & (oy < cv.orig_h), (ox >= 0) & (ox < cv.orig_w)
        sample = rgba[np.clip(oy, 0, cv.orig_h - 1)][:, np.clip(ox, 0, cv.orig_w - 1)]
        hit = (sample[:, :, 3] > 0) & ok_y[:, None] & ok_x[None, :] & ~self.mask[r0:r1, c0:c1]
        self.colors[r0:r1, c0:c1][hit] = sample[:, :, :3][hit]
        self.mask[r0:r1, c0:c1] |= hit


# Full-resolution hint layer (for flat fill), with a cost bounded by the pixels it touches.
#
# OpenCV's thick polyline draws a filled round joint at every point: a stroke of n points and
# width w costs ~ n x w^2 pixel writes (4096 points of width 1024 on 12 MP: ~4 G), whatever area
# it covers. Such a stroke is drawn instead as its 1-pixel centerline and a distance transform
# over its bounding box: cost ~ the box's area, at most the image's. Each stroke takes whichever
# of the two is cheaper, so thin strokes are drawn exactly as before.

#: Relative cost of one pixel of distance transform + compare + paint vs one polyline pixel write.
_DT_COST = 8.0


@dataclass
class PaintedPixels:
    """How many pixels :func:`rasterize_hints` visited painting strokes: the measure of its work
    (each stroke costs either its brush dabs or its bounding box, whichever is less)."""

    pixels: int = 0


def _paint_stroke(layer: U8, stroke: StrokeHint, work: PaintedPixels | None) -> None:
    """Paint one round-brush stroke into ``layer`` at a cost of about min(dabs, bounding box).

    A brush of width t dabbed at n points touches ~ n t^2 pixels (OpenCV's thick polyline does
    too: a disk at every joint): 16 s for 4096 points at width 1024. The same shape is the set of
    pixels within t/2 of the polyline: one distance transform over the stroke's bounding box,
    O(box), the cost of filling it. The cheaper of the two is used.
    """
    h, w = layer.shape[:2]
    xy = np.rint(np.asarray(stroke.points, dtype=np.float64).reshape(-1, 2)).astype(np.int32)
    color = (*stroke.rgb, 255)
    thickness = max(1, round(stroke.width))
    r = thickness // 2
    x0, y0 = (int(max(0, v - r - 1)) for v in xy.min(axis=0))
    x1, y1 = (int(min(lim, v + r + 2)) for v, lim in zip(xy.max(axis=0), (w, h), strict=True))
    if x1 <= x0 or y1 <= y0:
        return  # entirely outside the image
    box = (x1 - x0) * (y1 - y0)
    dabs = len(xy) * (thickness + 1) ** 2
    if dabs <= box:
        cv2.polylines(layer, [xy.reshape(-1, 1, 2)], False, color, thickness, cv2.LINE_8)
        for x, y in xy:  # round ends (and a lone point), as the brush paints them
            cv2.circle(layer, (int(x), int(y)), r, color, -1, cv2.LINE_8)
    else:
        roi = layer[y0:y1, x0:x1]  # a view: copyTo below paints the layer in place
        center = np.ones(roi.shape[:2], np.uint8)
        cv2.polylines(center, [(xy - (x0, y0)).reshape(-1, 1, 2)], False, 0, 1, cv2.LINE_8)
        # The 5x5 mask's L2 estimate (within ~2%) costs a third of the exact one.
        dist = cv2.distanceTransform(center, cv2.DIST_L2, cv2.DIST_MASK_5)
        cv2.copyTo(np.full_like(roi, color), (dist <= r + 0.5).view(np.uint8), roi)
    if work is not None:
        work.pixels += min(dabs, box)


def hint_raster_bound(
    height: int, width: int, points: Sequence[PointHint], strokes: Sequence[StrokeHint], max_width: float
) -> float:
    """About (at most) how many pixel writes :func:`rasterize_hints` makes, from counts and widths
    only (any hints, unvalidated).

    O(number of hints), no look at the points: cheap enough to run on an event loop for admission.
    """
    area = float(height * width)
    cost = 0.0
    for s in strokes:
        w = s.width if math.isfinite(s.width) else max_width
        thickness = max(1, round(min(max(w, 1.0), max_width)))
        cost += min(float(len(s.points)) * thickness * thickness, _DT_COST * area)
    for p in points:
        r = p.radius if math.isfinite(p.radius) else max_width / 2
        cost += min(area, (2 * min(max(r, 0.0), max_width / 2) + 1) ** 2)
    return cost


def rasterize_hints(
    height: int,
    width: int,
    points: Sequence[PointHint] = (),
    strokes: Sequence[StrokeHint] = (),
    hint_rgba: U8 | None = None,
    *,
    work: PaintedPixels | None = None,
    check: Callable[[], None] | None = None,
) -> U8:
    """The hints as painted at the original size: RGBA [H, W, 4], alpha 255 where hinted.

    Same order as the model's hint map (image, then strokes, then points, a later one on top);
    a point of radius 0 is one pixel. The hints must have been validated (:func:`validate_hints`).
    A stroke costs what filling its bounding box costs at most, however many points and however
    wide (``work`` counts it). ``check`` is called between strokes and between groups of points:
    it raises to stop (a deadline passed, the client went away).
    """
    layer = np.zeros((height, width, 4), np.uint8)
    if hint_rgba is not None:
        on = hint_rgba[..., 3] > 0
        layer[on] = hint_rgba[on]
        layer[on, 3] = 255
    for s in strokes:
        if check is not None:
            check()
        if s.points:
            _paint_stroke(layer, s, work)
    for i, p in enumerate(points):
        if check is not None and i % 64 == 0:
            check()
        x, y = min(round(p.x), width - 1), min(round(p.y), height - 1)
        cv2.circle(layer, (x, y), round(p.radius), (*p.rgb, 255), -1, cv2.LINE_8)
    return layer
