"""A sample sheet of a prepared source: kept drawings, then dropped ones, as colors | line art + tag.

``colorizer data`` writes one per source (``OUT/SOURCE/sample_sheet.png``), so what a filter keeps
and drops can be looked at, not only counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from colorizer.datasets.base import U8, Rendered
from colorizer.datasets.render import on_white

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _tile(rendered: Rendered, label: str, size: int) -> U8:
    rgb = cv2.resize(on_white(rendered.color), (size, size), interpolation=cv2.INTER_AREA)
    gray = cv2.resize(rendered.lines, (size, size), interpolation=cv2.INTER_AREA)
    tile = np.full((size + 16, 2 * size + 6, 3), 255, np.uint8)
    tile[:size, :size] = rgb
    tile[:size, size + 2 : 2 * size + 2] = np.repeat(gray[..., None], 3, axis=2)
    cv2.putText(tile, label[:40], (2, size + 12), _FONT, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def sample_sheet(pairs: Sequence[tuple[Rendered, str | None]], size: int, columns: int = 6) -> U8:
    """RGB uint8 sheet: kept drawings first, then dropped ones, each as colors | line art + tag.

    ``pairs`` holds each rendered drawing with its drop reason (None: kept); ``size`` is the side
    of one thumbnail. A header row names each section and its count.
    """
    if size < 16 or columns < 1:
        raise ValueError(f"need size >= 16 and columns >= 1, got {size}, {columns}")
    sections = [
        ("kept", [(r, "kept") for r, why in pairs if why is None]),
        ("dropped", [(r, why) for r, why in pairs if why is not None]),
    ]
    tw, th = 2 * size + 6, size + 16
    blocks: list[U8] = []
    for title, tiles in sections:
        head = np.full((24, columns * tw, 3), 255, np.uint8)
        cv2.putText(head, f"{title} ({len(tiles)})", (4, 17), _FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        blocks.append(head)
        rows = (len(tiles) + columns - 1) // columns
        grid = np.full((rows * th, columns * tw, 3), 255, np.uint8)
        for i, (rendered, label) in enumerate(tiles):
            y, x = (i // columns) * th, (i % columns) * tw
            grid[y : y + th, x : x + tw] = _tile(rendered, label, size)
        blocks.append(grid)
    return np.ascontiguousarray(np.concatenate(blocks, axis=0))
