"""Properties over random sizes and hints (hypothesis): shapes, bounds, and where hints land."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from colorizer import contract
from colorizer.imaging import Canvas, InputLimits, PointHint, build_hint_map, fit_sketch, restore_size

sides = st.integers(min_value=1, max_value=700)
canvas_sizes = st.sampled_from([contract.STRIDE * k for k in (1, 2, 4, 8)])


@settings(max_examples=40, deadline=None)
@given(h=sides, w=sides, size=canvas_sizes)
def test_fit_and_restore_keep_every_size(h: int, w: int, size: int) -> None:
    fitted, canvas = fit_sketch(np.zeros((h, w), np.uint8), size)
    assert fitted.shape == (size, size)
    assert canvas.top >= 0 and canvas.top + canvas.content_h <= size
    assert canvas.left >= 0 and canvas.left + canvas.content_w <= size
    assert restore_size(np.zeros((size, size, 3), np.uint8), canvas).shape == (h, w, 3)


@settings(max_examples=60, deadline=None)
@given(
    h=sides,
    w=sides,
    size=canvas_sizes,
    fx=st.floats(0, 1),
    fy=st.floats(0, 1),
    rgb=st.tuples(*[st.integers(0, 255)] * 3),
)
def test_a_radius_zero_point_sets_one_content_cell_near_it(
    h: int, w: int, size: int, fx: float, fy: float, rgb: tuple[int, int, int]
) -> None:
    canvas = Canvas.fit(h, w, size)
    x, y = fx * w, fy * h
    hint, cells = build_hint_map(canvas, [PointHint(x, y, rgb)], [], None, InputLimits())
    assert cells == 1
    ((row, col),) = np.argwhere(hint[3] > 0).tolist()
    cx, cy = canvas.to_canvas(x, y)
    s = contract.HINT_SCALE
    # The cell holds the point (or borders it, for a point on the sketch's far edge).
    assert col * s <= cx <= (col + 1) * s and row * s <= cy <= (row + 1) * s
    # ...and overlaps the content, never only the paper padding.
    assert col * s < canvas.left + canvas.content_w and (col + 1) * s > canvas.left
    assert row * s < canvas.top + canvas.content_h and (row + 1) * s > canvas.top
    np.testing.assert_allclose(hint[:3, row, col] * 255, rgb, atol=1e-3)


@settings(max_examples=80, deadline=None)
@given(
    h=sides,
    w=sides,
    size=canvas_sizes,
    points=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=5),
    width=st.floats(0.01, 40),
)
def test_a_strokes_brush_is_the_same_by_dilation_and_by_distance_transform(
    h: int, w: int, size: int, points: list[tuple[float, float]], width: float
) -> None:
    # Narrow brushes are found by a dilation with the disk, wide ones by a distance transform:
    # the two must paint the same cells (forced here both ways).
    from colorizer.imaging import StrokeHint
    from colorizer.imaging import hints as hint_module

    canvas = Canvas.fit(h, w, size)
    # Brushes up to 64 sub-pixels: the forced dilation's disk grows with the square of the reach.
    assume(width * canvas.scale / 2 / contract.HINT_SCALE * hint_module._SUB <= 64)
    stroke = StrokeHint(tuple((fx * w, fy * h) for fx, fy in points), width, (200, 30, 30))
    maps = []
    for reach in (1e9, 0.0):  # always dilate, never dilate
        saved = hint_module._DILATE_MAX_REACH
        hint_module._DILATE_MAX_REACH = reach
        try:
            maps.append(build_hint_map(canvas, [], [stroke], None, InputLimits()))
        finally:
            hint_module._DILATE_MAX_REACH = saved
    (dilated, cells_d), (transformed, cells_t) = maps
    assert cells_d == cells_t > 0
    assert np.array_equal(dilated, transformed)
