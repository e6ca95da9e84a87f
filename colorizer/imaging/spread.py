"""Hints spread over their own closed region before the model: one click colors its region.

The network reads hints at a quarter of the canvas resolution and learned to carry a hint a few
cells; a single click in a large region (a face, a shirt) fades with distance, and the rest of
the region takes the model's guess. A user's click means "this region is this color", and the
sketch says where the region ends. So, on the canvas the model runs on, before inference:

1. the canvas sketch's paper (gray >= ``line_threshold``) is labelled into line-bounded regions;
2. a hint cell (4x4 canvas pixels) belongs to a region when all its pixels do; regions that
   reach the canvas border are *open* (the page around the figure, or a figure whose outline has
   a gap) and get nothing: spreading there would paint the paper;
3. each hinted cell's color grows, one cell a step (8-neighbours), over unhinted cells of its own
   closed region, at most ``cells`` steps; where two hints meet, the first to arrive keeps the cell.

Hints the user gave are never changed, so with ``cells`` 0 the map is as before. The model then
sees a region mostly painted in its hint color, as the training's dabs and strokes showed it
(colorizer.data.hints), and shades it. Measured on the real exam (docs/QUALITY.md, "Hints spread
over their region"). numpy + OpenCV, breadth first from the frontier only, so a step costs what
it reaches: about 2 ms on a 256 px canvas at a reach of 64 (6 ms for the step-by-step sweep over
the whole map it replaced, with the same output; docs/PERFORMANCE.md).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from colorizer import contract
from colorizer.encoding import F32, U8
from colorizer.imaging.components import label_regions

#: Gray values below this are line (as flat fill and the guided upsampler read lines).
LINE_THRESHOLD = 200

# The 8 neighbour steps, axis-aligned first (a tie goes to the straight neighbour).
_STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def closed_cells(sketch: U8, line_threshold: int = LINE_THRESHOLD) -> npt.NDArray[np.int32]:
    """[H/4, W/4]: per hint cell, the label of the closed region holding all its pixels, else 0
    (a cell on a line, across two regions, or in a region that reaches the border)."""
    s = contract.HINT_SCALE
    h, w = sketch.shape[0] // s, sketch.shape[1] // s
    _, labels = label_regions((sketch[: h * s, : w * s] >= line_threshold).astype(np.uint8))
    blocks = labels.reshape(h, s, w, s).swapaxes(1, 2).reshape(h, w, s * s)
    cell = np.where((blocks == blocks[..., :1]).all(axis=2), blocks[..., 0], 0).astype(np.int32)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    cell[np.isin(cell, edge)] = 0
    return cell


def spread_hints(hint: F32, sketch: U8, cells: int, line_threshold: int = LINE_THRESHOLD) -> F32:
    """``hint`` [4, H/4, W/4] with each hinted cell's color grown up to ``cells`` cells over its
    closed region of ``sketch`` [H, W] (the canvas the model runs on); see the module doc."""
    if hint.ndim != 3 or hint.shape[0] != 4:
        raise ValueError(f"hint must be [4, h, w], got {hint.shape}")
    s = contract.HINT_SCALE
    if (sketch.shape[0] // s, sketch.shape[1] // s) != hint.shape[1:]:
        raise ValueError(f"sketch {sketch.shape} does not match the hint map {hint.shape}")
    if cells < 0:
        raise ValueError(f"cells must be >= 0, got {cells}")
    mask = hint[3] > 0.5
    if cells == 0 or not mask.any():
        return hint
    region = closed_cells(sketch, line_threshold)
    grow = np.unique(region[mask])
    grow = grow[grow != 0]
    if not grow.size:
        return hint
    # Flat indices into the map padded by one cell (the pad is region 0: never taken, never a
    # source), so a neighbour is an index plus a constant offset and never leaves the array.
    h, w = region.shape
    lab = np.pad(region, 1).ravel()
    free = np.pad(np.isin(region, grow) & ~mask, 1).ravel()
    seed = np.full(lab.size, -1, np.intp)  # per cell, the user's hint cell whose color it took
    front = np.flatnonzero(np.pad(mask, 1).ravel())
    seed[front] = front
    # A cell takes from the neighbour at dst + step, so a source reaches dst = src - step.
    offsets = np.array([dy * (w + 2) + dx for dy, dx in _STEPS], np.intp)
    priority = np.arange(len(_STEPS), dtype=np.intp)
    # Breadth first, one step a round, from the cells that took a color in the round before: an
    # older colored cell has no free neighbour of its region left (it would have taken it then),
    # so only the frontier can give. A free cell reached by several sources takes the first of
    # the 8 steps in _STEPS order, as a step-by-step sweep over the whole map would.
    for _ in range(cells):
        dst = front[:, None] - offsets
        ok = free[dst] & (lab[dst] == lab[front][:, None])
        if not ok.any():
            break
        src = np.broadcast_to(front[:, None], dst.shape)[ok]
        dst = dst[ok]
        order = np.argsort(dst * len(_STEPS) + np.broadcast_to(priority, ok.shape)[ok], kind="stable")
        dst, src = dst[order], src[order]
        first = np.ones(dst.size, bool)
        first[1:] = dst[1:] != dst[:-1]
        front = dst[first]
        seed[front] = seed[src[first]]
        free[front] = False
    have = seed >= 0
    colors = np.pad(np.moveaxis(hint[:3], 0, -1), ((1, 1), (1, 1), (0, 0))).reshape(-1, 3)
    rgb = np.where(have[:, None], colors[np.maximum(seed, 0)], 0).reshape(h + 2, w + 2, 3)
    out = hint.copy()
    out[:3] = np.moveaxis(rgb[1:-1, 1:-1], -1, 0)
    out[3] = have.reshape(h + 2, w + 2)[1:-1, 1:-1]
    return out
