"""Hints spread over their own closed region: never across a line, never onto the open paper."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from colorizer.encoding import encode_hint
from colorizer.imaging.spread import closed_cells, spread_hints

RED, BLUE = (220, 30, 30), (30, 30, 220)


def _two_boxes(gap: bool = False) -> np.ndarray:
    """A 128 px sketch: box A (x 8..56) and box B (x 64..120), both y 8..120, 2 px lines; with
    ``gap`` box B's right side has an opening to the page."""
    g = np.full((128, 128), 255, np.uint8)
    cv2.rectangle(g, (8, 8), (56, 120), 0, 2)
    cv2.rectangle(g, (64, 8), (120, 120), 0, 2)
    if gap:
        g[50:70, 118:123] = 255
    return g


def _hint(points: list[tuple[int, int, tuple[int, int, int]]]) -> np.ndarray:
    colors = np.zeros((32, 32, 3), np.uint8)
    mask = np.zeros((32, 32), bool)
    for r, c, rgb in points:
        colors[r, c], mask[r, c] = rgb, True
    return encode_hint(colors, mask)


def _color(hint: np.ndarray, r: int, c: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in np.rint(hint[:3, r, c] * 255))  # type: ignore[return-value]


def test_a_click_fills_its_closed_region_and_nothing_else() -> None:
    g = _two_boxes()
    cells = closed_cells(g)
    inside_a = cells == cells[16, 8]
    assert cells[16, 8] != 0 and cells[0, 0] == 0  # box A is closed; the page touches the border
    out = spread_hints(_hint([(16, 8, RED)]), g, 64)
    assert (out[3][inside_a] == 1).all()  # every cell wholly inside box A
    assert all(_color(out, r, c) == RED for r, c in np.argwhere(inside_a))
    assert out[3][~inside_a].sum() == 0  # not box B, not the page, not a cell on a line


def test_the_spread_stops_after_its_steps() -> None:
    out = spread_hints(_hint([(16, 8, RED)]), _two_boxes(), 2)
    rows, cols = np.nonzero(out[3])
    assert np.abs(rows - 16).max() == 2 and np.abs(cols - 8).max() == 2  # Chebyshev distance 2
    assert out[3].sum() == 25


def test_an_open_region_gets_nothing_and_the_clicks_stay_as_given() -> None:
    g = _two_boxes(gap=True)
    hint = _hint([(16, 8, RED), (16, 24, BLUE)])  # A closed, B open through its gap
    out = spread_hints(hint, g, 64)
    assert out[3][:, 17:].sum() == 1 and _color(out, 16, 24) == BLUE  # B: only the click itself
    assert out[3][:, :14].sum() > 50  # A still filled


def test_two_clicks_in_one_region_split_it_between_them() -> None:
    g = _two_boxes()
    out = spread_hints(_hint([(4, 8, RED), (28, 8, BLUE)]), g, 64)
    assert _color(out, 4, 8) == RED and _color(out, 28, 8) == BLUE
    assert _color(out, 8, 8) == RED and _color(out, 24, 8) == BLUE  # each keeps its own side


def test_zero_steps_or_no_hints_is_the_map_as_given() -> None:
    hint = _hint([(16, 8, RED)])
    assert spread_hints(hint, _two_boxes(), 0) is hint
    empty = _hint([])
    assert spread_hints(empty, _two_boxes(), 8) is empty


def test_a_mismatched_sketch_or_negative_steps_is_refused() -> None:
    with pytest.raises(ValueError, match="does not match"):
        spread_hints(_hint([]), np.full((64, 64), 255, np.uint8), 8)
    with pytest.raises(ValueError, match=">= 0"):
        spread_hints(_hint([]), _two_boxes(), -1)
