"""Fit a sketch of any size onto the model's square canvas (aspect kept, paper padding) and back."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from colorizer import contract

U8 = npt.NDArray[np.uint8]

#: Paper value used for padding: the model sees the border as blank paper, not as ink.
PAPER = 255


@dataclass(frozen=True)
class Canvas:
    """How an original sketch sits on the square model canvas.

    The original (``orig_w`` x ``orig_h``) is scaled by ``scale`` to ``content_w`` x
    ``content_h`` and placed at (``left``, ``top``) on a ``size`` x ``size`` canvas.
    """

    orig_h: int
    orig_w: int
    size: int
    scale: float
    top: int
    left: int
    content_h: int
    content_w: int

    @classmethod
    def fit(cls, orig_h: int, orig_w: int, size: int) -> Canvas:
        """The placement of an ``orig_h`` x ``orig_w`` image centered on a ``size`` canvas."""
        if size <= 0 or size % contract.STRIDE:
            raise ValueError(f"canvas size must be a positive multiple of {contract.STRIDE}, got {size}")
        if orig_h <= 0 or orig_w <= 0:
            raise ValueError(f"image size must be positive, got {orig_w}x{orig_h}")
        scale = min(size / orig_h, size / orig_w)
        content_h = min(size, max(1, round(orig_h * scale)))
        content_w = min(size, max(1, round(orig_w * scale)))
        return cls(
            orig_h=orig_h,
            orig_w=orig_w,
            size=size,
            scale=scale,
            top=(size - content_h) // 2,
            left=(size - content_w) // 2,
            content_h=content_h,
            content_w=content_w,
        )

    def to_canvas(self, x: float, y: float) -> tuple[float, float]:
        """Original pixel coordinates (corner origin) -> canvas pixel coordinates."""
        # Per-axis ratios (not ``scale``) so the original's edges land exactly on the content's.
        return (
            self.left + x * self.content_w / self.orig_w,
            self.top + y * self.content_h / self.orig_h,
        )

    def to_original(self, cx: float, cy: float) -> tuple[float, float]:
        """Canvas pixel coordinates -> original pixel coordinates (inverse of :meth:`to_canvas`)."""
        return (
            (cx - self.left) * self.orig_w / self.content_w,
            (cy - self.top) * self.orig_h / self.content_h,
        )


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    if (img.shape[1], img.shape[0]) == (width, height):
        return img.copy()
    # INTER_AREA averages when shrinking (no aliasing of thin lines); cubic is smooth when growing.
    shrinking = width * height < img.shape[0] * img.shape[1]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(img, (width, height), interpolation=interp)


def fit_sketch(gray: U8, size: int) -> tuple[U8, Canvas]:
    """Gray sketch [H, W] -> (``size`` x ``size`` canvas, its :class:`Canvas`).

    The aspect ratio is kept and the rest padded with paper (255), centered; never stretched.
    ``size`` must be a multiple of :data:`colorizer.contract.STRIDE`.
    """
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"sketch must be a 2-D uint8 array, got {gray.dtype} {gray.shape}")
    canvas = Canvas.fit(gray.shape[0], gray.shape[1], size)
    content = _resize(gray, canvas.content_w, canvas.content_h)
    out = np.full((size, size), PAPER, dtype=np.uint8)
    out[canvas.top : canvas.top + canvas.content_h, canvas.left : canvas.left + canvas.content_w] = content
    return out, canvas


def restore_size(rgb: U8, canvas: Canvas) -> U8:
    """Model-canvas RGB [size, size, 3] -> original-size RGB [orig_h, orig_w, 3] (crop, resize)."""
    if rgb.shape[:2] != (canvas.size, canvas.size):
        raise ValueError(f"expected a {canvas.size}x{canvas.size} image, got {rgb.shape}")
    content = rgb[canvas.top : canvas.top + canvas.content_h, canvas.left : canvas.left + canvas.content_w]
    return np.ascontiguousarray(_resize(np.ascontiguousarray(content), canvas.orig_w, canvas.orig_h))
