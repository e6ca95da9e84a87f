"""The gateway feeds the model its hints spread over their closed regions (COLORIZER_HINT_SPREAD_CELLS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from colorizer import imaging
from colorizer.imaging.spread import spread_hints
from service.pipeline import ColorizeInput, Pipeline


def _prepared_hint(settings: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    gray = np.full((96, 96), 255, np.uint8)
    cv2.rectangle(gray, (8, 8), (56, 88), 0, 2)  # a closed box; the page around it is open
    item = ColorizeInput("spread", b"", points=[imaging.PointHint(x=30, y=48, rgb=(220, 30, 30), radius=2)])
    pipeline = Pipeline(settings, backend=None, metrics=None)  # type: ignore[arg-type]  # preprocess only
    prepared = pipeline._preprocess(item, gray, None)
    return prepared.hint, prepared.fitted, prepared


def test_the_model_gets_the_click_spread_over_its_box(make_settings: Callable[..., Any]) -> None:
    spread, fitted, prepared = _prepared_hint(make_settings())
    plain, _, plain_prepared = _prepared_hint(make_settings(hint_spread_cells=0))
    assert make_settings().hint_spread_cells == 64  # the default
    np.testing.assert_array_equal(spread, spread_hints(plain, fitted, 64))
    assert spread[3].sum() > 5 * plain[3].sum()  # the click now covers much of its box
    assert prepared.hint_cells == plain_prepared.hint_cells  # the count is still the user's hints
