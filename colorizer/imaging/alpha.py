"""Transparency kept: the output's alpha from the sketch's, and the choice of paper instead.

A sketch drawn on a transparent background comes back with that background transparent (PNG,
WebP, the layered files) unless the request asks for paper. Which pixels are background: the
transparent ones connected to the image border through other not-fully-opaque pixels. Transparent
pixels the drawing encloses (the inside of a figure whose lines sit on a transparent layer, as
line art is usually drawn) are to be colored, so the output makes them opaque. An outline with a
gap lets the background in: such a figure comes back transparent inside, as a flood fill would.

numpy + OpenCV only, like the rest of this package.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from colorizer.imaging.canvas import Canvas
from colorizer.imaging.components import label_regions
from colorizer.imaging.decode import over_white

U8 = npt.NDArray[np.uint8]


def output_alpha(alpha: U8) -> U8:
    """The output's alpha [H, W] for a sketch's alpha [H, W]: background kept, enclosed parts opaque."""
    if alpha.ndim != 2 or alpha.dtype != np.uint8:
        raise ValueError(f"alpha must be a 2-D uint8 array, got {alpha.dtype} {alpha.shape}")
    see_through = (alpha < 255).astype(np.uint8)
    # 4-connectivity: a one-pixel diagonal line still closes a figure.
    count, found = label_regions(see_through)
    labels = np.asarray(found, dtype=np.int32)
    border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    background = np.zeros(count, bool)
    background[border] = True
    background[0] = False  # label 0 is the opaque pixels
    return np.where(background[labels], alpha, np.uint8(255)).astype(np.uint8)


def alpha_on_canvas(alpha: U8, canvas: Canvas) -> U8:
    """Original-size alpha -> the model canvas's [size, size], the padding transparent."""
    content = cv2.resize(alpha, (canvas.content_w, canvas.content_h), interpolation=cv2.INTER_AREA)
    out = np.zeros((canvas.size, canvas.size), np.uint8)
    out[canvas.top : canvas.top + canvas.content_h, canvas.left : canvas.left + canvas.content_w] = content
    return out


def with_alpha(rgb: U8, alpha: U8 | None) -> U8:
    """RGB [H, W, 3] and alpha [H, W] -> RGBA [H, W, 4]; ``alpha`` None -> ``rgb`` unchanged."""
    if alpha is None:
        return rgb
    if alpha.shape != rgb.shape[:2]:
        raise ValueError(f"alpha {alpha.shape} does not match the image {rgb.shape[:2]}")
    # cv2.merge interleaves ~10x faster than np.dstack or slice assignment (14 vs 120+ ms at 2048 px).
    return np.asarray(cv2.merge([*cv2.split(rgb), alpha]), dtype=np.uint8)


def on_paper(rgb: U8, alpha: U8 | None) -> U8:
    """RGB [H, W, 3] with alpha [H, W] composited on white paper -> RGB; ``alpha`` None -> ``rgb``."""
    return rgb if alpha is None else over_white(with_alpha(rgb, alpha))
