"""Flat fills: regions from the lines (thin ones kept, leaks through gaps split), one color each."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from colorizer.imaging import PointHint, StrokeHint, flatten_regions, hint_layer
from colorizer.imaging.flatten import line_regions

RED, BLUE, GREEN = (220, 30, 30), (30, 30, 220), (30, 200, 30)


def _two_boxes(gap: int = 0) -> np.ndarray:
    """A 60x80 sketch: a frame split by a vertical line at x=40, with a ``gap`` px hole in it."""
    g = np.full((60, 80), 255, np.uint8)
    cv2.rectangle(g, (10, 10), (70, 50), 0, 1)
    cv2.line(g, (40, 10), (40, 50), 0, 1)
    if gap:
        g[30 - gap // 2 : 30 - gap // 2 + gap, 40] = 255
    return g


def test_closed_regions_and_a_thin_strip_are_kept() -> None:
    g = _two_boxes()
    cv2.line(g, (12, 20), (38, 20), 0, 1)
    cv2.line(g, (12, 24), (38, 24), 0, 1)  # a 3 px strip, its ends 1 px from the frame
    labels, n = line_regions(g, min_area=8)
    left, right, strip = labels[40, 20], labels[40, 60], labels[22, 25]
    assert len({left, right, strip}) == 3 and 0 not in (left, right, strip)
    assert (labels[21:24, 14:37] == strip).all()
    assert labels.max() == n - 1 and (labels > 0).all()  # lines too belong to their nearest region


def test_a_leak_through_a_small_gap_is_split_and_a_wide_one_is_not() -> None:
    small = line_regions(_two_boxes(gap=5), min_area=8)[0]
    assert small[30, 20] != small[30, 60]
    wide = line_regions(_two_boxes(gap=20), min_area=8)[0]
    # A 20 px opening is a real opening: 7.5 px are joined at this size.
    assert wide[30, 20] == wide[30, 60]


def test_regions_take_the_hint_color_and_lines_are_drawn_over() -> None:
    g = _two_boxes(gap=5)
    rng = np.random.default_rng(0)
    # A blotchy model output: both halves noisy around a color, the left one bleeding to the right.
    rgb = np.empty((60, 80, 3), np.uint8)
    rgb[:, :44] = RED
    rgb[:, 44:] = BLUE
    rgb = np.clip(rgb.astype(int) + rng.integers(-15, 16, rgb.shape), 0, 255).astype(np.uint8)
    hints = hint_layer(60, 80, [PointHint(20, 30, GREEN)])
    out = flatten_regions(rgb, g, hints)
    assert (out[12:49, 12:39] == GREEN).all()  # the hinted region, in the hint's color, flat
    right = out[12:49, 42:69].reshape(-1, 3)
    assert (right == right[0]).all() and np.abs(right[0].astype(int) - BLUE).max() <= 3  # model's median
    assert (out[10, 10:71] == 0).all()  # the frame line is black again


def test_disagreeing_hints_or_colors_leave_the_model_output() -> None:
    g = _two_boxes(gap=20)  # one merged region
    rgb = np.empty((60, 80, 3), np.uint8)
    rgb[:, :40] = RED
    rgb[:, 40:] = BLUE
    two = hint_layer(60, 80, [PointHint(20, 30, RED), PointHint(60, 30, BLUE)])
    out = flatten_regions(rgb, g, two)
    assert tuple(out[30, 20]) == RED and tuple(out[30, 60]) == BLUE
    out = flatten_regions(rgb, g)  # no hints, two colors of about equal share: no dominant color
    assert tuple(out[30, 20]) == RED and tuple(out[30, 60]) == BLUE


def test_an_empty_hint_layer_is_the_same_as_none() -> None:
    g = _two_boxes()
    rgb = np.empty((60, 80, 3), np.uint8)
    rgb[:, :40], rgb[:, 40:] = RED, BLUE
    empty = hint_layer(60, 80)
    assert np.array_equal(flatten_regions(rgb, g, empty), flatten_regions(rgb, g))


def test_hint_layer_paints_image_then_strokes_then_points() -> None:
    image = np.zeros((20, 30, 4), np.uint8)
    image[2, 3] = (*BLUE, 7)
    layer = hint_layer(
        20,
        30,
        [PointHint(29.9, 19.9, RED), PointHint(10, 10, GREEN, radius=2)],
        [StrokeHint(((0, 0), (10, 0)), 3, BLUE)],
        image,
    )
    assert tuple(layer[2, 3]) == (*BLUE, 255)
    assert tuple(layer[19, 29]) == (*RED, 255)  # the far edge is the last pixel
    assert tuple(layer[10, 12]) == (*GREEN, 255) and layer[10, 13, 3] == 0
    assert tuple(layer[1, 5]) == (*BLUE, 255) and layer[3, 5, 3] == 0
    assert int((layer[..., 3] > 0).sum()) < 60


def test_sizes_must_match() -> None:
    with pytest.raises(ValueError, match="one size"):
        flatten_regions(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5), np.uint8))


def test_a_neck_between_disagreeing_hints_is_cut_and_strips_elsewhere_kept() -> None:
    # A 2 px opening in the dividing line with gap closing off (gap=0): what a punched corner
    # leaves where no line end sees it. The two sides' hints disagree, so the region is labelled
    # again at lines thickened by 1 px, which closes the neck: each side takes its own hint.
    g = _two_boxes(gap=2)
    cv2.line(g, (12, 20), (38, 20), 0, 1)
    cv2.line(g, (12, 23), (38, 23), 0, 1)  # a 2 px strip inside the left box, its ends open
    rng = np.random.default_rng(1)
    rgb = np.clip(rng.normal(128, 20, (60, 80, 3)), 0, 255).astype(np.uint8)
    two = hint_layer(60, 80, [PointHint(20, 40, RED), PointHint(60, 30, BLUE)])
    out = flatten_regions(rgb, g, two, gap=0)
    assert (out[26:49, 12:39] == RED).all() and (out[12:49, 42:69] == BLUE).all()
    # The strip (its hint-free 2 px inside) is no part of the cut: it is not painted red.
    assert not (out[21:23, 14:37] == RED).all(axis=-1).any()
    # Agreeing hints: nothing is split, the one region takes the one color, the neck included.
    same = hint_layer(60, 80, [PointHint(20, 40, RED), PointHint(60, 30, RED)])
    out = flatten_regions(rgb, g, same, gap=0)
    assert (out[26:49, 12:39] == RED).all() and (out[12:49, 42:69] == RED).all()
    assert (out[29:31, 40] == RED).all()


@pytest.mark.parametrize("side", [120, 1200])
def test_an_open_figure_on_the_paper_keeps_the_paper_around_it(side: int) -> None:
    """A leaf drawn as an open stroke: its inside and the paper are one region. The hint's color
    goes where the model painted the leaf, not over the whole page."""
    k = side // 120
    g = np.full((side, side), 255, np.uint8)
    # a "U" open at the top, 60 px wide and deep at 120 px, far wider than any gap joined
    cv2.ellipse(g, (60 * k, 40 * k), (30 * k, 50 * k), 0, 0, 180, 0, 2 * k)
    rgb = np.full((side, side, 3), 250, np.uint8)  # the model: near-white paper ...
    cv2.ellipse(rgb, (60 * k, 40 * k), (28 * k, 48 * k), 0, 0, 180, (60, 170, 60), -1)  # ... a green leaf
    cv2.circle(rgb, (45 * k, 60 * k), 5 * k, (255, 255, 255), -1)  # ... with a white slip inside it
    hints = hint_layer(side, side, [PointHint(60 * k, 70 * k, GREEN)])
    labels, _ = line_regions(g)
    assert labels[70 * k, 60 * k] == labels[5 * k, 5 * k]  # one region: the leaf is open
    out = flatten_regions(rgb, g, hints)
    assert (out[60 * k : 80 * k, 50 * k : 70 * k] == GREEN).all()  # the leaf, flat in the hint's color
    assert (out[57 * k : 64 * k, 42 * k : 49 * k] == GREEN).all()  # white inside the figure is no paper
    for y, x in ((5, 5), (110, 110), (5, 110), (100, 10)):
        assert tuple(out[y * k, x * k]) == (255, 255, 255), (y, x)  # the paper stays paper
    # Without paper (the setting off), the region takes the hint's color as any hinted region.
    assert tuple(flatten_regions(rgb, g, hints, paper=False)[5 * k, 5 * k]) == GREEN
