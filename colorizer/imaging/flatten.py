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
    """Labels [H, W] (1..n-1) of the regions the lines of ``gray`` enclose, and n.

    Two scales: regions are taken at the lines as drawn (thin regions survive), and a region that
    the lines thickened by ``gap`` px split into two or more sizeable cores is a leak through a
    gap: it is split between those cores. Every pixel, line pixels included, ends up in its
    nearest region; with no region at all the labels are all 0 and n is 1.
    """
    fine, nf = _components(gray, 1, min_area, line_threshold)
    fine = _grow(fine)
    if gap > 1:
        core, nc = _components(gray, gap, min_area, line_threshold)
        # Sizeable cores per fine region: a fine region holding two or more is split.
        pairs = fine.astype(np.int64) * nc + core
        overlap = np.bincount(pairs[core > 0].ravel(), minlength=nf * nc) >= min_area
        cores_per_region = np.bincount(np.nonzero(overlap)[0] // nc, minlength=nf)
        leaky = cores_per_region[fine] >= 2
        if leaky.any():
            grown_core = _grow(core)
            fine = np.where(leaky, nf + fine.astype(np.int64) * nc + grown_core, fine)
    _, inverse = np.unique(fine, return_inverse=True)
    labels = inverse.reshape(fine.shape).astype(np.int32)
    if (fine > 0).all():
        labels += 1  # keep 0 for "no region"
    return labels, int(labels.max()) + 1


def _lab(rgb: U8) -> npt.NDArray[np.float32]:
    """RGB uint8 [..., 3] -> CIELAB float32 (L 0..100), from OpenCV's 8-bit Lab."""
    lab = cv2.cvtColor(rgb.reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    lab[:, 0] *= 100.0 / 255.0
    lab[:, 1:] -= 128.0
    return lab


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
) -> U8:
    """``rgb`` [H, W, 3] with each region of ``gray`` [H, W] painted in one color (see above).

    ``hints`` [H, W, 4] (RGB + alpha > 0 where hinted, as the user gave them): a region whose hints
    agree (all within ``tolerance`` of their median) is painted in the hints' color, the color the
    user asked for, rather than in the model's median; a region with disagreeing hints keeps the
    model's colors.
    """
    if rgb.shape[:2] != gray.shape or (hints is not None and hints.shape[:2] != gray.shape):
        shapes = (rgb.shape, gray.shape, None if hints is None else hints.shape)
        raise ValueError(f"flatten needs colors, lines and hints of one size, got {shapes}")
    labels, count = line_regions(gray, gap, min_area, line_threshold)
    if count <= 1:
        return rgb
    flat = labels.ravel()
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(count + 1))
    px_rgb = rgb.reshape(-1, 3)[order]
    px_lab = _lab(px_rgb)
    hinted = None if hints is None else (hints[..., 3] > 0).ravel()[order]
    px_hint = None if hints is None else hints[..., :3].reshape(-1, 3)[order]
    out = rgb.reshape(-1, 3).copy()
    for k in range(1, count):
        lo, hi = bounds[k], bounds[k + 1]
        if hi - lo < min_area:
            continue
        if hinted is not None and px_hint is not None and hinted[lo:hi].any():
            asked = px_hint[lo:hi][hinted[lo:hi]]
            asked_lab = _lab(asked)
            if np.linalg.norm(asked_lab - np.median(asked_lab, axis=0), axis=1).max() >= tolerance:
                continue  # two colors asked for in one region: leave it to the model
            out[order[lo:hi]] = np.median(asked, axis=0).round().astype(np.uint8)
            continue
        median_lab = np.median(px_lab[lo:hi], axis=0)
        close = np.linalg.norm(px_lab[lo:hi] - median_lab, axis=1) < tolerance
        if close.mean() < agree:
            continue
        out[order[lo:hi]] = np.median(px_rgb[lo:hi][close], axis=0).round().astype(np.uint8)
    # The fills ran under the lines too: draw the sketch's lines back over them (multiply).
    lines = cv2.merge([gray, gray, gray])
    return np.asarray(cv2.multiply(out.reshape(rgb.shape), lines, scale=1.0 / 255.0), dtype=np.uint8)


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
