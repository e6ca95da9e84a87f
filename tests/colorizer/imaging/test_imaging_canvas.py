"""Fitting sketches onto the square model canvas and restoring the original size."""

from __future__ import annotations

import numpy as np
import pytest

from colorizer import contract
from colorizer.imaging import Canvas, fit_sketch, restore_size


@pytest.mark.parametrize(("h", "w"), [(333, 517), (517, 333), (100, 100), (40, 70), (1, 300), (2000, 31)])
def test_fit_keeps_aspect_pads_with_paper_and_restores_exact_size(h: int, w: int) -> None:
    size = 128
    gray = np.zeros((h, w), np.uint8)  # all ink, so any padding is visible as paper
    canvas_img, canvas = fit_sketch(gray, size)
    assert canvas_img.shape == (size, size) and canvas_img.dtype == np.uint8
    assert max(canvas.content_h, canvas.content_w) == size
    s = size / max(h, w)  # one scale for both axes: the aspect ratio is kept
    assert (canvas.content_h, canvas.content_w) == (max(1, round(h * s)), max(1, round(w * s)))
    content = canvas_img[
        canvas.top : canvas.top + canvas.content_h, canvas.left : canvas.left + canvas.content_w
    ]
    assert content.max() == 0
    assert (canvas_img == 255).sum() == size * size - canvas.content_h * canvas.content_w
    # Centered: the padding on both sides differs by at most one pixel.
    assert abs(canvas.top - (size - canvas.top - canvas.content_h)) <= 1
    assert abs(canvas.left - (size - canvas.left - canvas.content_w)) <= 1
    rgb = np.stack([canvas_img] * 3, axis=2)
    back = restore_size(rgb, canvas)
    assert back.shape == (h, w, 3)
    assert back.max() == 0  # the padding is cropped away, not squeezed in


def test_round_trip_of_a_smooth_image_is_close() -> None:
    y, x = np.mgrid[0:333, 0:517]
    img = ((x + y) * 255 // (333 + 517)).astype(np.uint8)
    fitted, canvas = fit_sketch(img, 256)
    back = restore_size(np.stack([fitted] * 3, axis=2), canvas)
    assert np.abs(back[..., 0].astype(int) - img).mean() < 1.5


def test_to_canvas_maps_corners_onto_the_content() -> None:
    canvas = Canvas.fit(333, 517, 256)
    assert canvas.to_canvas(0, 0) == (canvas.left, canvas.top)
    assert canvas.to_canvas(517, 333) == (canvas.left + canvas.content_w, canvas.top + canvas.content_h)
    x, y = canvas.to_original(*canvas.to_canvas(100.5, 200.25))
    assert (x, y) == pytest.approx((100.5, 200.25))


def test_upscaling_a_small_sketch_fills_the_canvas() -> None:
    _, canvas = fit_sketch(np.full((20, 10), 255, np.uint8), 64)
    assert (canvas.content_h, canvas.content_w, canvas.top, canvas.left) == (64, 32, 0, 16)
    assert canvas.scale == pytest.approx(3.2)


def test_size_must_be_a_multiple_of_the_stride() -> None:
    with pytest.raises(ValueError, match=f"multiple of {contract.STRIDE}"):
        fit_sketch(np.zeros((10, 10), np.uint8), contract.STRIDE + 1)
