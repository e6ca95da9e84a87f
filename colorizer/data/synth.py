"""Procedural anime-like illustrations: the project's own offline training and evaluation data.

Each image is a background plus a stack of overlapping closed shapes (ellipses, polygons, smooth
blobs, rounded boxes, thick curved bands). Every shape has a flat base color with cel shading: a
darker shadow tone on the side away from a per-image light direction, and sometimes a lighter
highlight. Outlines follow the *visible* border of each shape (later layers hide earlier lines),
with a per-segment width of 1-4 px and a few gaps, as in real line art. Deterministic: the
same ``(seed, index)`` gives the same arrays, so PNGs written from them are byte-identical.

Region-label convention (the uint16 label map):

* ``0`` (:data:`LINE_LABEL`) marks ink: pixels covered by an outline;
* ``1`` and ``2`` are the background (``2`` only when the background is split in two);
* ``3..`` are the tones of the shapes, each tone (base, shadow, highlight) its own id, so every
  non-line region is one flat color. :attr:`Illustration.regions` says, per id, which shape it
  belongs to, which tone it is, and its RGB color.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
U16 = npt.NDArray[np.uint16]
Mask = npt.NDArray[np.bool_]

#: Label of ink (outline) pixels in the region map.
LINE_LABEL = 0
#: Label of the (first) background region.
BACKGROUND_LABEL = 1
_FIRST_SHAPE_LABEL = 3


@dataclass(frozen=True)
class Region:
    """One flat-colored region of an illustration."""

    label: int
    shape: int  # 0 for the background, 1.. for shapes in drawing order
    tone: str  # "background", "base", "shadow" or "highlight"
    rgb: tuple[int, int, int]


@dataclass
class Illustration:
    """A rendered illustration: the color image, its region labels and its drawn line image."""

    color: U8  # [H, W, 3] RGB
    labels: U16  # [H, W], see the module docstring
    lines: U8  # [H, W] gray, 0 ink on 255 paper (what the artist drew)
    regions: dict[int, Region] = field(default_factory=dict)


def _random_color(rng: np.random.Generator) -> tuple[float, float, float]:
    """An anime-palette color as RGB 0..1: mostly mid-saturated, sometimes skin or near-white."""
    kind = rng.random()
    if kind < 0.15:  # skin tones
        h, s, v = rng.uniform(0.02, 0.09), rng.uniform(0.15, 0.4), rng.uniform(0.85, 1.0)
    elif kind < 0.25:  # whites and grays
        h, s, v = rng.random(), rng.uniform(0.0, 0.08), rng.uniform(0.5, 1.0)
    else:
        h, s, v = rng.random(), rng.uniform(0.25, 0.9), rng.uniform(0.45, 1.0)
    return colorsys.hsv_to_rgb(h, s, v)


def _to_u8(rgb: tuple[float, float, float]) -> tuple[int, int, int]:
    r, g, b = (round(min(max(c, 0.0), 1.0) * 255) for c in rgb)
    return (r, g, b)


def _shade(rgb: tuple[float, float, float], factor: float, hue_shift: float) -> tuple[float, float, float]:
    """A cel-shading tone: darker (factor < 1) or lighter, hue nudged towards blue/purple."""
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    if factor < 1:
        return colorsys.hsv_to_rgb((h + hue_shift) % 1.0, min(1.0, s * 1.15 + 0.05), v * factor)
    return colorsys.hsv_to_rgb(h, s * 0.6, min(1.0, v * factor))


def _shape_mask(rng: np.random.Generator, size: int) -> Mask:
    """One random closed shape, somewhere on a ``size`` x ``size`` canvas."""
    canvas = np.zeros((size, size), np.uint8)
    cx, cy = rng.uniform(0.05, 0.95, 2) * size
    r = size * rng.uniform(0.06, 0.32)
    kind = rng.integers(5)
    if kind == 0:  # ellipse
        axes = (max(2, int(r)), max(2, int(r * rng.uniform(0.4, 1.0))))
        cv2.ellipse(canvas, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    elif kind == 1:  # polygon (convex-ish, a few vertices)
        n = int(rng.integers(3, 8))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = r * rng.uniform(0.6, 1.0, n)
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
        cv2.fillPoly(canvas, [pts.astype(np.int32)], 1)
    elif kind == 2:  # smooth blob: low-frequency Fourier radius
        t = np.linspace(0.0, 2 * np.pi, 96, endpoint=False)
        rad = np.full_like(t, r)
        for k in (2, 3, 5):
            rad += r * rng.uniform(0.0, 0.25) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
        pts = np.stack([cx + rad * np.cos(t), cy + rad * np.sin(t)], 1)
        cv2.fillPoly(canvas, [pts.astype(np.int32)], 1)
    elif kind == 3:  # rounded box
        w, h = r * rng.uniform(0.6, 1.6), r * rng.uniform(0.6, 1.6)
        x0, y0, x1, y1 = int(cx - w), int(cy - h), int(cx + w), int(cy + h)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), 1, -1)
        k = max(3, int(min(w, h) * 0.5) | 1)
        canvas = (cv2.GaussianBlur(canvas * 255, (k, k), 0) > 127).astype(np.uint8)
    else:  # thick curved band, like a hair strand or a sleeve
        t = np.linspace(0.0, 1.0, 24)
        heading = float(rng.uniform(0, 2 * np.pi))
        bend = rng.uniform(-1.2, 1.2)
        length = r * 2.2
        xs = cx + length * (t - 0.5) * np.cos(heading + bend * (t - 0.5))
        ys = cy + length * (t - 0.5) * np.sin(heading + bend * (t - 0.5))
        width = r * rng.uniform(0.2, 0.45) * np.sin(np.pi * (0.15 + 0.85 * t)) + 2
        nx, ny = -np.sin(heading), np.cos(heading)
        left = np.stack([xs + nx * width, ys + ny * width], 1)
        right = np.stack([xs - nx * width, ys - ny * width], 1)[::-1]
        cv2.fillPoly(canvas, [np.concatenate([left, right]).astype(np.int32)], 1)
    return canvas.astype(bool)


def _shift(mask: Mask, dx: int, dy: int) -> Mask:
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = mask[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def _draw_outline(rng: np.random.Generator, mask: Mask, ink: U8) -> None:
    """Draw the border of ``mask`` into ``ink`` (uint8 0/1) with varying width and a few gaps."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    base = float(rng.choice([1.0, 1.5, 2.0, 2.5, 3.0]))
    gap_rate = rng.uniform(0.0, 0.03)
    for contour in contours:
        pts = contour[:, 0, :]
        if len(pts) < 3:
            continue
        pts = np.concatenate([pts, pts[:1]])
        seg = 6
        for i in range(0, len(pts) - 1, seg):
            if rng.random() < gap_rate:
                continue  # a gap in the line, as sketches have
            thickness = round(base + rng.uniform(-0.6, 0.9))
            chunk = pts[i : i + seg + 1].astype(np.int32)
            cv2.polylines(ink, [chunk], False, 1, max(1, thickness), cv2.LINE_8)


def render(rng: np.random.Generator, size: int = 256) -> Illustration:
    """Draw one illustration of ``size`` x ``size`` pixels from ``rng``."""
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    labels = np.full((size, size), BACKGROUND_LABEL, np.uint16)
    color = np.zeros((size, size, 3), np.float32)
    ink = np.zeros((size, size), np.uint8)
    regions: dict[int, Region] = {}

    # Background: flat, or split in two (wall/floor, sky/ground) along a slanted line.
    bg = _random_color(rng)
    color[:] = bg
    regions[BACKGROUND_LABEL] = Region(BACKGROUND_LABEL, 0, "background", _to_u8(bg))
    if rng.random() < 0.5:
        bg2 = _random_color(rng)
        yy, xx = np.mgrid[0:size, 0:size]
        y0, slope = rng.uniform(0.4, 0.85) * size, rng.uniform(-0.3, 0.3)
        lower = yy > y0 + slope * (xx - size / 2)
        color[lower] = bg2
        labels[lower] = 2
        regions[2] = Region(2, 0, "background", _to_u8(bg2))
        _draw_outline(rng, lower, ink)

    light = rng.uniform(0, 2 * np.pi)
    next_label = _FIRST_SHAPE_LABEL
    for shape_id in range(1, int(rng.integers(4, 13)) + 1):
        mask = _shape_mask(rng, size)
        if mask.sum() < 12:
            continue
        base = _random_color(rng)
        tones: list[tuple[str, Mask, tuple[float, float, float]]] = [("base", mask, base)]
        # Shadow: the part of the shape not covered by a copy shifted towards the light.
        off = max(2, int(size * rng.uniform(0.02, 0.06)))
        dx, dy = round(np.cos(light) * off), round(np.sin(light) * off)
        if rng.random() < 0.8:
            shadow = mask & ~_shift(mask, dx, dy)
            tones.append(("shadow", shadow, _shade(base, rng.uniform(0.6, 0.82), rng.uniform(0.0, 0.06))))
        if rng.random() < 0.35:
            hl = mask & _shift(mask, -2 * dx, -2 * dy) & _shift(mask, -3 * dx, -3 * dy)
            hl &= ~_shift(mask, 4 * dx, 4 * dy)
            tones.append(("highlight", hl, _shade(base, rng.uniform(1.15, 1.35), 0.0)))
        ink[mask] = 0  # this layer hides the lines beneath it
        for tone, tmask, rgb in tones:
            if not tmask.any():
                continue
            color[tmask] = rgb
            labels[tmask] = next_label
            regions[next_label] = Region(next_label, shape_id, tone, _to_u8(rgb))
            next_label += 1
        _draw_outline(rng, mask, ink)

    # Ink: near-black, sometimes a dark brown or blue as colored line art has.
    line_rgb = np.array(_random_color(rng), np.float32) * rng.uniform(0.0, 0.25)
    is_ink = ink.astype(bool)
    color[is_ink] = line_rgb
    labels[is_ink] = LINE_LABEL
    present = set(np.unique(labels).tolist())
    regions = {k: v for k, v in regions.items() if k in present}
    color_u8 = (np.clip(color, 0, 1) * 255 + 0.5).astype(np.uint8)
    lines = np.where(is_ink, 0, 255).astype(np.uint8)
    return Illustration(color=color_u8, labels=labels, lines=lines, regions=regions)


def render_indexed(seed: int, index: int, size: int = 256) -> Illustration:
    """Illustration number ``index`` of the series ``seed`` (independent of any other index)."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be non-negative, got seed={seed} index={index}")
    return render(np.random.default_rng([seed, index]), size)
