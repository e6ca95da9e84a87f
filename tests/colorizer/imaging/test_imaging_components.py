"""label_regions: OpenCV's Spaghetti4C labelling must give the labels every stage relied on before
(cv2.connectedComponents' default 4-way algorithm), numbered the same way."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from colorizer.imaging.components import label_regions


@pytest.mark.parametrize("density", [0.3, 0.5, 0.7])
@pytest.mark.parametrize("ltype", [cv2.CV_32S, cv2.CV_16U])
def test_labels_match_opencv_default_4_way_labelling(density: float, ltype: int) -> None:
    rng = np.random.default_rng(int(density * 10))
    mask = (rng.random((301, 257)) < density).astype(np.uint8)
    count, labels = label_regions(mask, ltype)
    ref_count, ref = cv2.connectedComponents(mask, connectivity=4, ltype=ltype)
    assert count == ref_count > 100
    assert labels.dtype == ref.dtype
    np.testing.assert_array_equal(labels, ref)


def test_a_one_pixel_diagonal_line_separates_two_regions() -> None:
    mask = np.ones((64, 64), np.uint8)
    idx = np.arange(64)
    mask[idx, idx] = 0  # a diagonal line: 8-connected paper would leak through it
    count, labels = label_regions(mask)
    assert count == 3  # the line (0) and the two triangles
    assert labels[0, 63] != labels[63, 0]
    assert labels[0, 63] > 0 and labels[63, 0] > 0
