"""Pictures for people: hints drawn over a sketch, and a labelled contact sheet of results."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from colorizer.imaging.hints import PointHint, StrokeHint

U8 = npt.NDArray[np.uint8]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_INK = (30, 30, 30)
_BACKGROUND = 255


def as_rgb(img: U8) -> U8:
    """Gray [H, W] or RGB [H, W, 3] -> RGB [H, W, 3] (a copy)."""
    return np.asarray(cv2.cvtColor(img, cv2.COLOR_GRAY2RGB), dtype=np.uint8) if img.ndim == 2 else img.copy()


def draw_hints(
    sketch: U8,
    points: Sequence[PointHint],
    strokes: Sequence[StrokeHint],
    hint_rgba: U8 | None = None,
) -> U8:
    """The sketch (gray or RGB, original size) with its hints drawn on it as the user placed them.

    Points are dots with a dark outline (at least a few pixels, so a radius-0 hint is visible),
    strokes are polylines of their width, a hint image is alpha-blended on top.
    """
    out = as_rgb(sketch)
    h, w = out.shape[:2]
    if hint_rgba is not None:
        alpha = hint_rgba[:, :, 3:4].astype(np.float32) / 255.0
        out = (out * (1.0 - alpha) + hint_rgba[:, :, :3] * alpha + 0.5).astype(np.uint8)
    mark = max(3, round(min(h, w) / 80))
    for s in strokes:
        pts = np.round(np.array(s.points, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [pts], False, _INK, thickness=max(1, round(s.width)) + 2, lineType=cv2.LINE_AA)
        cv2.polylines(out, [pts], False, s.rgb, thickness=max(1, round(s.width)), lineType=cv2.LINE_AA)
    for p in points:
        center = (round(p.x), round(p.y))
        radius = max(mark, round(p.radius))
        cv2.circle(out, center, radius + 1, _INK, thickness=-1, lineType=cv2.LINE_AA)
        cv2.circle(out, center, radius, p.rgb, thickness=-1, lineType=cv2.LINE_AA)
    return out


def fit_tile(img: U8, tile: int) -> U8:
    """Scale ``img`` (RGB) to fit a ``tile`` x ``tile`` square, aspect kept, centered on white."""
    h, w = img.shape[:2]
    scale = tile / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    small = cv2.resize(img, (nw, nh), interpolation=interp)
    out = np.full((tile, tile, 3), _BACKGROUND, dtype=np.uint8)
    top, left = (tile - nh) // 2, (tile - nw) // 2
    out[top : top + nh, left : left + nw] = small
    return out


def contact_sheet(
    rows: Sequence[tuple[str, Sequence[U8]]],
    columns: Sequence[str],
    tile: int = 256,
    title: str = "",
) -> U8:
    """A grid of RGB images, one labelled row per item and a header naming each column.

    ``rows`` holds (label, images); every row has one image per entry of ``columns``.
    """
    pad, label_h = 8, 24
    header_h = label_h + (label_h if title else 0)
    n_cols = len(columns)
    width = pad + n_cols * (tile + pad)
    height = header_h + len(rows) * (tile + label_h + pad) + pad
    sheet = np.full((height, width, 3), _BACKGROUND, dtype=np.uint8)
    y = 0
    if title:
        cv2.putText(sheet, title, (pad, 18), _FONT, 0.55, _INK, 1, cv2.LINE_AA)
        y += label_h
    for c, name in enumerate(columns):
        cv2.putText(sheet, name, (pad + c * (tile + pad), y + 17), _FONT, 0.5, _INK, 1, cv2.LINE_AA)
    y = header_h
    for label, images in rows:
        if len(images) != n_cols:
            raise ValueError(f"row {label!r} has {len(images)} images for {n_cols} columns")
        cv2.putText(sheet, label, (pad, y + 17), _FONT, 0.45, _INK, 1, cv2.LINE_AA)
        y += label_h
        for c, img in enumerate(images):
            x = pad + c * (tile + pad)
            sheet[y : y + tile, x : x + tile] = fit_tile(as_rgb(img), tile)
            cv2.rectangle(sheet, (x - 1, y - 1), (x + tile, y + tile), (200, 200, 200), 1)
        y += tile + pad
    return sheet
