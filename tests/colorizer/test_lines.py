"""extract_lines: dark lines on white paper, where the drawn edges are."""

import cv2
import numpy as np
import pytest

from colorizer.lines import extract_lines


def _drawing() -> np.ndarray:
    img = np.full((96, 96, 3), (250, 240, 230), np.uint8)
    cv2.rectangle(img, (20, 20), (75, 75), (60, 140, 220), -1)  # a flat blue box...
    cv2.rectangle(img, (20, 20), (75, 75), (0, 0, 0), 3)  # ...with a 3 px black outline
    return img


def test_lines_on_outline_paper_elsewhere() -> None:
    lines = extract_lines(_drawing())
    assert lines.shape == (96, 96) and lines.dtype == np.uint8
    outline = np.zeros((96, 96), np.uint8)
    cv2.rectangle(outline, (20, 20), (75, 75), 1, 3)
    on = outline.astype(bool)
    assert lines[on].mean() < 20  # the drawn outline is (nearly) black, solid across its width
    far = cv2.dilate(outline, np.ones((7, 7), np.uint8)) == 0
    assert (lines[far] == 255).all()  # flat fill and paper are pure white


def test_gray_input_and_hue_only_border() -> None:
    gray = cv2.cvtColor(_drawing(), cv2.COLOR_RGB2GRAY)
    lines = extract_lines(gray)
    assert lines[18, 48] < 20 and lines[22, 48] < 128  # ink is dark relative to its surroundings
    assert lines[48, 48] == 255
    # Two colors of equal brightness: a gray-scale method would miss the border.
    img = np.zeros((32, 32, 3), np.uint8)
    img[:, :16] = (200, 60, 60)
    img[:, 16:] = (60, 60, 200)
    lines = extract_lines(img)
    assert lines[:, 14:18].min() < 40 and (lines[:, :10] == 255).all()


@pytest.mark.parametrize(
    ("bad", "match"),
    [(np.zeros((8, 8, 3), np.float32), "uint8"), (np.zeros((8, 8, 4), np.uint8), "shape"),
     (np.zeros((0, 8), np.uint8), "empty")],
)
def test_bad_input(bad: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        extract_lines(bad)
