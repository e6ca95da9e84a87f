"""The page around the figure kept white in the model's output: unhinted open regions are paper.

The model tints the unhinted background a little (0.7-0.8 CIEDE2000 from white on the real exam),
and more when its hints are spread over their regions (:mod:`colorizer.imaging.spread`: 1.9 at a
reach of 8 cells, 2.8 at 16): a large painted region bleeds into the page around it. The page is
what a user wants white, and the sketch says where it is, as flat fill reads it
(:func:`colorizer.imaging.flatten.flatten_regions`, ``paper``): a line-bounded region that reaches
the canvas border and holds no hint. So, on the canvas, after inference:

1. the canvas sketch's paper (gray >= ``line_threshold``) is labelled into regions (4-connected,
   as every stage labels them); a region touching the canvas border is *open*;
2. an open region that holds no hinted cell of the user's hint map (the map as given, before any
   spreading) is the page, and its pixels become white.

A hinted open region (a figure whose outline has a gap, colored by its user) keeps the model's
colors, and so do closed regions, hinted or not: the model's guess there is the product. Lines
and their antialiased fringe (below ``line_threshold``) keep the model's colors too; the gateway
multiplies the lines over them. The threshold is the eval's (250), higher than the spread's 200,
so a faint line still closes a region: a figure merged with the page through a light stroke would
be whitened. numpy + OpenCV; about a millisecond on a 256 px canvas.
"""

from __future__ import annotations

import numpy as np

from colorizer import contract
from colorizer.encoding import F32, U8
from colorizer.imaging.components import label_regions

#: Gray values below this are line for finding the page: the eval's line threshold (light
#: antialiased strokes still close their region).
LINE_THRESHOLD = 250
#: The page's color.
PAPER = 255


def page_mask(sketch: U8, hint: F32, line_threshold: int = LINE_THRESHOLD) -> np.ndarray:
    """[H, W] bool: the pixels of ``sketch`` [H, W] (the canvas) in regions that reach its border
    and hold no hinted cell of ``hint`` [4, H/4, W/4] (the user's map, before spreading)."""
    s = contract.HINT_SCALE
    if hint.ndim != 3 or hint.shape[0] != 4 or hint.shape[1:] != (sketch.shape[0] // s, sketch.shape[1] // s):
        raise ValueError(f"hint map {hint.shape} does not match the sketch {sketch.shape}")
    _, labels = label_regions((sketch >= line_threshold).astype(np.uint8))
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    cells = hint[3] > 0.5
    if cells.any():
        # A cell's 4x4 pixels: any of them in an open region makes that region hinted.
        under = np.kron(cells, np.ones((s, s), bool))
        h, w = under.shape
        hinted = np.unique(labels[:h, :w][under])
        edge = np.setdiff1d(edge, hinted)
    edge = edge[edge != 0]
    return np.isin(labels, edge)


def keep_paper(rgb: U8, sketch: U8, hint: F32, line_threshold: int = LINE_THRESHOLD) -> U8:
    """The model's canvas colors ``rgb`` [H, W, 3] with the unhinted open regions of ``sketch``
    made white (see the module doc); a new array, ``rgb`` is not changed."""
    if rgb.shape[:2] != sketch.shape:
        raise ValueError(f"colors {rgb.shape} do not match the sketch {sketch.shape}")
    out = rgb.copy()
    out[page_mask(sketch, hint, line_threshold)] = PAPER
    return out
