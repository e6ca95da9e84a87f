"""Flat fills: one color per line-bounded region of the sketch, taken from the model's output.

Anime coloring is mostly flat fills inside closed lines; the model's colors wander inside a region
(blotches) and smear across lines near hints. This step labels the regions the sketch's lines
enclose and paints each one with the median of the model's colors inside it, which removes both
where the regions are right. Where they are not, it stands back:

* a region with hints takes the hints' own color when they agree;
* small gaps in the lines are closed before labelling (a disk of ``gap`` px), and the pixels the
  closing took (and the lines) go to the nearest region afterwards;
* a region is flattened only when most of the model's colors in it agree (``agree`` of its pixels
  within ``tolerance`` Lab units of its median): two regions merged through a wider gap, which the
  model colored differently, keep the model's colors;
* regions smaller than ``min_area`` px (specks, hatching) keep the model's colors.

The sketch's lines are then drawn back over the fills (multiplied, as ``overlay_lines`` does).

numpy + OpenCV only, like the rest of this package.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from colorizer.imaging.hints import PointHint, StrokeHint

U8 = npt.NDArray[np.uint8]

#: Gray values below this count as line (anti-aliased edges included).
LINE_THRESHOLD = 200
#: About how many pixels the region colors are estimated from (a regular sample beyond it).
STATS_PIXELS = 2**20


def _components(
    gray: U8, radius: int, min_area: int, line_threshold: int
) -> tuple[npt.NDArray[np.int32], int]:
    """Paper components after thickening the lines by ``radius`` px; those under ``min_area`` -> 0."""
    lines = (gray < line_threshold).astype(np.uint8)
    if radius > 0:
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        lines = np.asarray(cv2.dilate(lines, disk), dtype=np.uint8)
    count, found = cv2.connectedComponents(1 - lines, connectivity=4, ltype=cv2.CV_32S)
    labels = np.asarray(found, dtype=np.int32)
    small = np.bincount(labels.ravel(), minlength=count) < min_area
    small[0] = True
    labels[small[labels]] = 0
    return labels, count


def _grow(labels: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Every 0 pixel takes the label of its nearest labelled pixel (none labelled: unchanged)."""
    unlabelled = (labels == 0).astype(np.uint8)
    if unlabelled.all() or not unlabelled.any():
        return labels
    _, nearest = cv2.distanceTransformWithLabels(unlabelled, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    # DIST_LABEL_PIXEL numbers the zero pixels of its input (the labelled ones) in scan order.
    seeds = labels[unlabelled == 0]
    return np.where(labels > 0, labels, seeds[nearest.ravel() - 1].reshape(labels.shape))


def line_regions(
    gray: U8, gap: int = 3, min_area: int = 32, line_threshold: int = LINE_THRESHOLD
) -> tuple[npt.NDArray[np.int32], int]:
    """Labels [H, W] (ids below n; 0 = none) of the regions the lines of ``gray`` enclose, and n.

    Two scales: regions are taken at the lines as drawn (thin regions survive), and a region that
    the lines thickened by ``gap`` px split into two or more sizeable cores is a leak through a
    gap: it is split between those cores. Every pixel, line pixels included, ends up in its
    nearest region; with no region at all the labels are all 0 and n is 1.
    """
    fine, nf = _components(gray, 1, min_area, line_threshold)
    fine = _grow(fine)
    labels = fine
    if gap > 1:
        core, nc = _components(gray, gap, min_area, line_threshold)
        # Thicker lines only shrink the paper, so each core lies inside one fine region: note
        # which, and count the cores per region (all O(pixels), no table of region x core).
        region_of_core = np.zeros(nc, np.int64)
        region_of_core[core.ravel()] = fine.ravel()
        region_of_core[0] = 0
        present = np.bincount(core.ravel(), minlength=nc) > 0
        present[0] = False
        cores_per_region = np.bincount(region_of_core[present], minlength=nf)
        leaky = cores_per_region[fine] >= 2
        if leaky.any():
            # A leaky region's pixels go to their nearest core. A pixel whose nearest core lies
            # across a line gets an id of its own (nf + that core) unless the other region is
            # split too: then it joins that region's part (mostly line pixels, drawn over anyway).
            labels = np.where(leaky, nf + _grow(core), fine)
    # Ids are not compacted (dropped specks leave unused ones): the callers' per-id sums do not
    # mind, and relabelling would cost two more passes over the image.
    return labels.astype(np.int32, copy=False), int(labels.max()) + 1


def _lab(rgb: U8) -> npt.NDArray[np.float32]:
    """RGB uint8 [..., 3] -> CIELAB float32 [N, 3] (L 0..100), from OpenCV's 8-bit Lab."""
    if rgb.size == 0:  # OpenCV refuses empty images
        return np.zeros((0, 3), np.float32)
    lab = cv2.cvtColor(rgb.reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    lab[:, 0] *= 100.0 / 255.0
    lab[:, 1:] -= 128.0
    return lab


def _sums(
    ids: npt.NDArray[np.int32], values: npt.NDArray[np.floating] | None, n: int
) -> npt.NDArray[np.float64]:
    """Per id: the count (``values`` None) or the per-column sums of ``values`` [len(ids), C]."""
    if values is None:
        return np.bincount(ids, minlength=n).astype(np.float64)
    return np.stack([np.bincount(ids, weights=values[:, c], minlength=n) for c in range(values.shape[1])], 1)


def flatten_regions(
    rgb: U8,
    gray: U8,
    hints: U8 | None = None,
    *,
    gap: int = 3,
    min_area: int = 32,
    tolerance: float = 30.0,
    agree: float = 0.6,
    line_threshold: int = LINE_THRESHOLD,
    draw_lines: bool = True,
) -> U8:
    """``rgb`` [H, W, 3] with each region of ``gray`` [H, W] painted in one color (see above).

    ``draw_lines=False`` returns the fills alone, running under the lines (the flats layer of a
    layered file, whose line art is a layer of its own).

    ``hints`` [H, W, 4] (RGB + alpha > 0 where hinted, as the user gave them): a region whose hints
    agree (all within ``tolerance`` Lab units of their mean) is painted in the hints' color, the
    color the user asked for, rather than in the model's; a region with disagreeing hints keeps
    the model's colors. Vectorised over regions (per-region sums with ``bincount``), O(pixels).
    """
    if rgb.shape[:2] != gray.shape or (hints is not None and hints.shape[:2] != gray.shape):
        shapes = (rgb.shape, gray.shape, None if hints is None else hints.shape)
        raise ValueError(f"flatten needs colors, lines and hints of one size, got {shapes}")
    labels, n = line_regions(gray, gap, min_area, line_threshold)
    if n <= 1:
        return rgb
    # Region colors are statistics: on a large image a regular sample of ~1 MP gives the same
    # figures for any region big enough to matter, at a fraction of the cost (the model's colors
    # are an upscale of its canvas anyway). Counts stay exact, from the full labels.
    ids = labels.ravel()
    step = max(1, int(np.sqrt(labels.size / STATS_PIXELS)))
    s_ids = labels[::step, ::step].ravel()
    s_px = rgb[::step, ::step].reshape(-1, 3)
    lab = _lab(s_px)
    count = _sums(ids, None, n)
    s_count = _sums(s_ids, None, n)
    # The model's color per region: the mean of the pixels near the region's mean (a trimmed
    # mean, robust to blotches), used when enough of the region is near it.
    mean = (_sums(s_ids, lab, n) / np.maximum(s_count, 1.0)[:, None]).astype(np.float32)
    close = ((lab - mean[s_ids]) ** 2).sum(axis=1) < tolerance**2
    n_close = _sums(s_ids[close], None, n)
    color = _sums(s_ids[close], s_px[close].astype(np.float32), n) / np.maximum(n_close, 1.0)[:, None]
    fill = (n_close >= agree * s_count) & (n_close > 0) & (count >= min_area)
    if hints is not None:
        hinted = hints[..., 3].ravel() > 0
        h_ids, h_rgb = ids[hinted], hints[..., :3].reshape(-1, 3)[hinted]
        h_count = _sums(h_ids, None, n)
        h_lab = _lab(h_rgb)
        h_mean = _sums(h_ids, h_lab, n) / np.maximum(h_count, 1.0)[:, None]
        far = np.linalg.norm(h_lab - h_mean[h_ids].astype(np.float32), axis=1) >= tolerance
        agreed = (h_count > 0) & (_sums(h_ids[far], None, n) == 0)
        h_color = _sums(h_ids, h_rgb.astype(np.float32), n) / np.maximum(h_count, 1.0)[:, None]
        color = np.where(agreed[:, None], h_color, color)
        # Hinted regions: the hints' color when they agree, else the model's colors untouched.
        fill = np.where(h_count > 0, agreed & (count >= min_area), fill)
    fill[0] = False
    table = np.clip(np.rint(color), 0, 255).astype(np.uint8)
    flat = rgb.reshape(-1, 3).copy()
    filled = fill[ids]
    flat[filled] = table[ids[filled]]
    if not draw_lines:
        return flat.reshape(rgb.shape)
    # The fills ran under the lines too: draw the sketch's lines back over them (multiply).
    lines = cv2.merge([gray, gray, gray])
    return np.asarray(cv2.multiply(flat.reshape(rgb.shape), lines, scale=1.0 / 255.0), dtype=np.uint8)


def hint_layer(
    height: int,
    width: int,
    points: Sequence[PointHint] = (),
    strokes: Sequence[StrokeHint] = (),
    hint_rgba: U8 | None = None,
) -> U8:
    """The hints as painted at the original size: RGBA [H, W, 4], alpha 255 where hinted.

    Same order as the model's hint map (image, then strokes, then points, a later one on top);
    a point of radius 0 is one pixel. The hints must have been validated
    (:func:`colorizer.imaging.hints.validate_hints`).
    """
    layer = np.zeros((height, width, 4), np.uint8)
    if hint_rgba is not None:
        on = hint_rgba[..., 3] > 0
        layer[on] = hint_rgba[on]
        layer[on, 3] = 255
    for s in strokes:
        xy = np.rint(np.asarray(s.points, dtype=np.float64).reshape(-1, 1, 2)).astype(np.int32)
        color = (*s.rgb, 255)
        thickness = max(1, round(s.width))
        cv2.polylines(layer, [xy], False, color, thickness, cv2.LINE_8)
        for x, y in xy[:, 0]:  # round ends (and a lone point), as the brush paints them
            cv2.circle(layer, (int(x), int(y)), thickness // 2, color, -1, cv2.LINE_8)
    for p in points:
        x, y = min(round(p.x), width - 1), min(round(p.y), height - 1)
        cv2.circle(layer, (x, y), round(p.radius), (*p.rgb, 255), -1, cv2.LINE_8)
    return layer
