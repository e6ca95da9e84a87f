"""Hint maps: exact cells and colors for hand-made cases, and validation messages."""

from __future__ import annotations

import numpy as np
import pytest

from colorizer import contract
from colorizer.imaging import (
    Canvas,
    ImageInputError,
    InputLimits,
    LimitExceededError,
    PointHint,
    StrokeHint,
    build_hint_map,
)

LIMITS = InputLimits()
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def mask_of(hint: np.ndarray) -> np.ndarray:
    return hint[3] > 0


def color_at(hint: np.ndarray, row: int, col: int) -> tuple[int, ...]:
    return tuple(int(np.rint(v * 255)) for v in hint[:3, row, col])


def test_point_lands_in_the_right_cell_with_the_right_color() -> None:
    # 128x64 original on a 64 canvas: scale 0.5, content 32 wide at left=16, a 16x16 hint grid.
    canvas = Canvas.fit(128, 64, 64)
    assert (canvas.left, canvas.top, canvas.content_w) == (16, 0, 32)
    hint, cells = build_hint_map(canvas, [PointHint(x=30, y=50, rgb=(10, 200, 30))], [], None, LIMITS)
    assert hint.shape == (4, 16, 16) and hint.dtype == np.float32
    # canvas (16 + 15, 25) -> cell (row 25 // 4, col 31 // 4) = (6, 7)
    assert cells == 1 and np.argwhere(mask_of(hint)).tolist() == [[6, 7]]
    assert color_at(hint, 6, 7) == (10, 200, 30)
    assert hint[:3].sum() == pytest.approx((10 + 200 + 30) / 255, rel=1e-6)  # nothing else colored


def test_point_on_the_far_edge_stays_in_the_content() -> None:
    canvas = Canvas.fit(128, 64, 64)
    hint, _ = build_hint_map(canvas, [PointHint(x=64, y=128, rgb=RED)], [], None, LIMITS)
    assert np.argwhere(mask_of(hint)).tolist() == [[15, 11]]  # content spans columns 4..11


def test_radius_covers_cells_whose_centers_are_inside() -> None:
    canvas = Canvas.fit(64, 64, 64)  # scale 1
    hint, cells = build_hint_map(canvas, [PointHint(x=32, y=32, rgb=BLUE, radius=4.0)], [], None, LIMITS)
    # The 4 cells around (32, 32) have centers sqrt(8) away; the next ring is >= sqrt(40) away.
    assert cells == 4 and np.argwhere(mask_of(hint)).tolist() == [[7, 7], [7, 8], [8, 7], [8, 8]]
    hint2, cells2 = build_hint_map(canvas, [PointHint(x=32, y=32, rgb=BLUE, radius=6.5)], [], None, LIMITS)
    # Radius 6.5 adds the 8 cells at sqrt(4 + 36) = 6.32, not the corners at sqrt(72).
    assert cells2 == 4 + 8
    assert mask_of(hint2)[6, 7] and not mask_of(hint2)[6, 6]


def test_stroke_covers_the_cells_along_its_path() -> None:
    canvas = Canvas.fit(64, 64, 64)
    stroke = StrokeHint(points=((2.0, 2.0), (62.0, 2.0), (62.0, 40.0)), width=1.0, rgb=GREEN)
    hint, cells = build_hint_map(canvas, [], [stroke], None, LIMITS)
    mask = mask_of(hint)
    assert mask[0, :].all() and mask[:11, 15].all()  # along both segments
    assert cells == 16 + 10 and not mask[11:, 15].any()
    assert color_at(hint, 0, 3) == GREEN


def test_wide_stroke_covers_cells_under_the_brush() -> None:
    canvas = Canvas.fit(64, 64, 64)
    stroke = StrokeHint(points=((10.0, 32.0), (54.0, 32.0)), width=13.0, rgb=RED)
    mask = mask_of(build_hint_map(canvas, [], [stroke], None, LIMITS)[0])
    # The line runs on the boundary between rows 7 and 8 (y = 32); centers at 30/34 and 26/38 are
    # 2 and 6 away, within the half width of 6.5; centers 22/42 are 10 away.
    rows = np.flatnonzero(mask.any(axis=1)).tolist()
    assert rows == [6, 7, 8, 9]
    assert mask[6:10, 3:13].all() and not mask[:, 0].any()


def test_hint_image_alpha_pixels_become_hints() -> None:
    canvas = Canvas.fit(32, 32, 64)  # upscaled 2x: each original pixel covers half a cell
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[10:14, 4:8] = (1, 2, 3, 255)  # canvas 8..16 x 20..28 -> cells cols 2..3, rows 5..6
    rgba[0, 31] = (250, 100, 0, 1)  # any alpha > 0 counts
    hint, cells = build_hint_map(canvas, [], [], rgba, LIMITS)
    assert np.argwhere(mask_of(hint)).tolist() == [[0, 15], [5, 2], [5, 3], [6, 2], [6, 3]]
    assert cells == 5 and color_at(hint, 5, 2) == (1, 2, 3) and color_at(hint, 0, 15) == (250, 100, 0)


def test_hint_image_on_a_downscaled_sketch_averages_the_pixels_of_a_cell() -> None:
    canvas = Canvas.fit(256, 256, 64)  # 4 original pixels per canvas pixel, 16 per cell
    rgba = np.zeros((256, 256, 4), np.uint8)
    rgba[0:16, 0:8] = (100, 0, 0, 255)
    rgba[0:16, 8:16] = (200, 0, 0, 255)
    rgba[100, 200] = (0, 0, 77, 9)  # a single pixel still hints its cell
    hint, cells = build_hint_map(canvas, [], [], rgba, LIMITS)
    assert cells == 2 and color_at(hint, 0, 0) == (150, 0, 0) and color_at(hint, 6, 12) == (0, 0, 77)


def test_later_hints_overwrite_earlier_ones() -> None:
    canvas = Canvas.fit(64, 64, 64)
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[:] = 255  # the whole hint layer is opaque white
    stroke = StrokeHint(points=((0.0, 1.0), (64.0, 1.0)), width=1.0, rgb=GREEN)
    points = [PointHint(x=1, y=1, rgb=RED), PointHint(x=1, y=1, rgb=BLUE)]
    hint, cells = build_hint_map(canvas, points, [stroke], rgba, LIMITS)
    assert cells == 16 * 16
    assert (
        color_at(hint, 0, 0) == BLUE and color_at(hint, 0, 1) == GREEN and color_at(hint, 1, 0) == (255,) * 3
    )


def test_no_hints_gives_an_empty_map() -> None:
    hint, cells = build_hint_map(Canvas.fit(30, 50, 64), [], [], None, LIMITS)
    assert cells == 0 and not hint.any() and hint.shape == (4, 64 // contract.HINT_SCALE, 16)


@pytest.mark.parametrize(
    ("points", "strokes", "error", "message"),
    [
        (
            [PointHint(900, 5, RED)],
            [],
            ImageInputError,
            r"points\[0\]\.x=900 is outside the 0\.\.640 sketch width",
        ),
        (
            [PointHint(1, 1, RED), PointHint(5, -1, RED)],
            [],
            ImageInputError,
            r"points\[1\]\.y=-1 is outside the 0\.\.480 sketch height",
        ),
        (
            [PointHint(float("nan"), 1, RED)],
            [],
            ImageInputError,
            r"points\[0\]\.x=nan is not a finite number",
        ),
        (
            [PointHint(1, 1, (0, 300, 0))],
            [],
            ImageInputError,
            r"points\[0\]\.color: g=300 is outside 0\.\.255",
        ),
        ([PointHint(1, 1, (0, -1, 0))], [], ImageInputError, r"points\[0\]\.color: g=-1 is outside 0\.\.255"),
        (
            [PointHint(1, 1, RED, radius=-2)],
            [],
            ImageInputError,
            r"points\[0\]\.radius=-2 must be between 0 and 512",
        ),
        ([PointHint(1, 1, RED, radius=600)], [], ImageInputError, r"points\[0\]\.radius=600"),
        (
            [PointHint(1, 1, RED)] * 1025,
            [],
            LimitExceededError,
            r"points: 1025 point hints exceed .* \(max_points\)",
        ),
        (
            [],
            [StrokeHint((), 3, RED)],
            ImageInputError,
            r"strokes\[0\]\.points: a stroke needs at least 1 point",
        ),
        ([], [StrokeHint(((1, 1),), 0, RED)], ImageInputError, r"strokes\[0\]\.width=0 must be > 0"),
        (
            [],
            [StrokeHint(((1, 1),), 3, RED), StrokeHint(((1, 1), (2, 700)), 3, RED)],
            ImageInputError,
            r"strokes\[1\]\.points\[1\]\.y=700 is outside the 0\.\.480 sketch height",
        ),
        ([], [StrokeHint(((1, 1),), 3, (1, 2, 256))], ImageInputError, r"strokes\[0\]\.color: b=256"),
        (
            [],
            [StrokeHint(((1, 1),) * 4097, 3, RED)],
            LimitExceededError,
            r"strokes\[0\]\.points: 4097 points exceed the limit of 4096 \(max_stroke_points\)",
        ),
        ([], [StrokeHint(((1, 1),), 3, RED)] * 257, LimitExceededError, r"\(max_strokes\)"),
    ],
)
def test_invalid_hints_are_named(
    points: list[PointHint], strokes: list[StrokeHint], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        build_hint_map(Canvas.fit(480, 640, 64), points, strokes, None, LIMITS)


def test_wrong_hint_image_shape_is_refused() -> None:
    with pytest.raises(ImageInputError, match="hint_image: must be RGBA 640x480"):
        build_hint_map(Canvas.fit(480, 640, 64), [], [], np.zeros((480, 640, 3), np.uint8), LIMITS)
