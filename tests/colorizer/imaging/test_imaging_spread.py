"""Hints spread over their own closed region: never across a line, never onto the open paper."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from colorizer.encoding import encode_hint
from colorizer.imaging.spread import _STEPS, closed_cells, spread_hints

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


def _sweep_spread(hint: np.ndarray, sketch: np.ndarray, cells: int) -> np.ndarray:
    """The spread written as its definition: every step, every free cell of a hinted closed region
    looks at its 8 neighbours in ``_STEPS`` order and takes the first colored one of its region.
    Slow (8 whole-map passes a step) and obviously right; the module's frontier walk must agree."""
    mask = hint[3] > 0.5
    region = closed_cells(sketch)
    grow = np.setdiff1d(np.unique(region[mask]), [0])
    free = np.isin(region, grow) & ~mask
    have = mask.copy()
    colors = np.moveaxis(hint[:3], 0, -1).copy()
    h, w = region.shape
    for _ in range(cells):
        took = np.zeros_like(have)
        new_colors = colors.copy()
        for r, c in np.argwhere(free):
            for dy, dx in _STEPS:
                y, x = r + dy, c + dx
                if 0 <= y < h and 0 <= x < w and have[y, x] and region[y, x] == region[r, c]:
                    new_colors[r, c], took[r, c] = colors[y, x], True
                    break
        colors = new_colors
        have |= took
        free &= ~took
    out = hint.copy()
    out[:3] = np.moveaxis(colors, -1, 0) * have
    out[3] = have
    return out


@pytest.mark.parametrize("seed", range(4))
def test_the_frontier_walk_equals_the_step_by_step_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    g = np.full((128, 128), 255, np.uint8)
    for y in range(4, 120, 40):  # a 3 x 3 grid of closed boxes, cut into odd shapes by lines
        for x in range(4, 120, 40):
            cv2.rectangle(g, (x, y), (x + 36, y + 36), 0, 1)
    for _ in range(6):
        x0, y0, x1, y1 = (int(v) for v in rng.integers(4, 124, 4))
        cv2.line(g, (x0, y0), (x1, y1), 0, 1)
    inside = np.flatnonzero(closed_cells(g) > 0)
    colors = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32), bool)
    mask.flat[rng.choice(inside, 12, replace=False)] = True  # several clicks share a region
    mask.flat[rng.choice(32 * 32, 4, replace=False)] = True  # and some land on lines or the page
    hint = encode_hint(colors, mask)
    for cells in (1, 3, 64):
        np.testing.assert_array_equal(spread_hints(hint, g, cells), _sweep_spread(hint, g, cells))
