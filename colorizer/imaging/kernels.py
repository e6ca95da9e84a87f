"""Structuring elements shared by the imaging stages (numpy only)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def disk(radius: float) -> npt.NDArray[np.uint8]:
    """The offsets within ``radius`` (Euclidean, inclusive) of the center, as an OpenCV kernel.

    Exact where OpenCV's ``MORPH_ELLIPSE`` is a rasterized ellipse: an erosion or dilation by it
    is exactly "within ``radius``", the test a distance transform would make.
    """
    r = int(radius)
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return (x * x + y * y <= radius * radius).astype(np.uint8)
