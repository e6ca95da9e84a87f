"""The page kept white after the model: unhinted open regions only."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from colorizer.encoding import empty_hint
from colorizer.imaging.paper import keep_paper, page_mask


def _two_rings() -> np.ndarray:
    """A 64 px canvas: a closed ring (left) and a ring with a gap that joins the page (right)."""
    sketch = np.full((64, 64), 255, np.uint8)
    cv2.circle(sketch, (18, 32), 12, 0, 2)
    cv2.circle(sketch, (46, 32), 12, 0, 2)
    sketch[28:37, 56:60] = 255  # the gap: the right ring's inside is the page's
    return sketch


def _hint_at(y: int, x: int, rgb: tuple[float, float, float] = (1.0, 0.0, 0.0)) -> np.ndarray:
    hint = empty_hint(64, 64)
    hint[:3, y // 4, x // 4] = rgb
    hint[3, y // 4, x // 4] = 1.0
    return hint


def test_unhinted_page_becomes_white_and_the_rest_keeps_the_model_colors() -> None:
    sketch = _two_rings()
    model = np.full((64, 64, 3), 180, np.uint8)  # a tint everywhere
    out = keep_paper(model, sketch, empty_hint(64, 64))
    assert (out[2, 2] == 255).all()  # the page
    assert (out[32, 46] == 255).all()  # the open ring's inside is the page too
    assert (out[32, 18] == 180).all()  # the closed ring's inside keeps the model's guess
    assert (out[sketch < 250] == 180).all()  # lines keep the model's colors
    assert (model == 180).all()  # the input is not changed


def test_a_hint_in_the_open_region_keeps_the_model_colors_there() -> None:
    sketch = _two_rings()
    model = np.full((64, 64, 3), 90, np.uint8)
    # A hint inside the open ring: its region (the page with it) is the user's, not paper.
    assert not page_mask(sketch, _hint_at(32, 46)).any()
    assert page_mask(sketch, _hint_at(32, 18)).sum() == page_mask(sketch, empty_hint(64, 64)).sum()
    assert (keep_paper(model, sketch, _hint_at(32, 46)) == 90).all()


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="hint map"):
        page_mask(np.zeros((64, 64), np.uint8), empty_hint(32, 32))
    with pytest.raises(ValueError, match="colors"):
        keep_paper(np.zeros((32, 32, 3), np.uint8), np.zeros((64, 64), np.uint8), empty_hint(64, 64))
