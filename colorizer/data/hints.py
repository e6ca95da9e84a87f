"""Random color hints for training, built the paper's way plus the patches and strokes users draw.

The paper: downsample the color image 4x, draw a uniform random matrix, threshold it into a mask
(the threshold drawn per sample, so hint counts range from none to dozens), hint = mask * color,
concatenated with the mask. Two refinements, because users click *inside* regions:

* a cell's color is the mean of the 2x2 pixels at the center of its 4x4 block, not an area
  average of the whole block, so a cell touching an outline does not carry an ink/fill mix;
* random point hints land only on *flat* cells (the 4x4 block's per-channel range below
  ``flat_tolerance``), i.e. inside a region, never on a line or an edge.

A share of samples (``p_regions``) gets its points the way people hint a page instead: one click
in each of a random share of the regions and nothing else (regions: 4-connected components of flat
cells; a line or a color edge makes the cells it crosses non-flat), so the model learns to carry a
single click across a whole region, which dense random points never ask of it.

On top of the points, a sample may get small square patches (a user's dab) and short strokes (a
user's scribble) that stay within one region and carry that region's color. Every tensor goes
through :func:`colorizer.encoding.encode_hint`, so training and serving encode hints identically.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from colorizer import contract
from colorizer.encoding import F32, U8, encode_hint
from colorizer.imaging.spread import spread_hints

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class HintConfig:
    """How many hints a training sample gets, and of which kinds."""

    #: Probability that a sample has no hints at all (the model must also color unaided).
    p_none: float = 0.12
    #: Point-hint density (fraction of flat cells) is log-uniform in this range.
    density_min: float = 0.002
    density_max: float = 0.06
    #: Probability that a sample gets point hints (else only patches/strokes).
    p_points: float = 0.85
    #: Of the samples with points, the share whose points are one per region (see the module doc).
    p_regions: float = 0.0
    #: In that mode, each region of at least ``region_min_cells`` cells gets its click with a
    #: probability drawn per sample from this range.
    region_keep: tuple[float, float] = (0.5, 1.0)
    region_min_cells: int = 2
    #: Up to this many square patches, each 1..``patch_max`` cells wide.
    max_patches: int = 6
    patch_max: int = 3
    #: Up to this many strokes, each up to ``stroke_len`` cells long.
    max_strokes: int = 4
    stroke_len: int = 12
    #: A 4x4 block whose channels vary by at most this much (0..255) counts as flat.
    flat_tolerance: int = 24
    #: Cells of a patch/stroke must be within this distance (0..255, max over RGB) of its color.
    same_region_tolerance: int = 24
    #: Probability that a hinted sample's hints are then spread over their closed regions of the
    #: sketch (:func:`spread_for_training`), as the gateway feeds the model
    #: (``COLORIZER_HINT_SPREAD_CELLS``); the steps are drawn from 1..``spread_max``.
    p_spread: float = 0.0
    spread_max: int = 16

    def __post_init__(self) -> None:
        probabilities = (self.p_none, self.p_points, self.p_regions, self.p_spread, *self.region_keep)
        if not all(0.0 <= p <= 1.0 for p in probabilities):
            raise ValueError("p_none, p_points, p_regions, p_spread and region_keep must be probabilities")
        if self.spread_max < 1:
            raise ValueError(f"spread_max must be >= 1, got {self.spread_max}")
        if self.region_keep[0] > self.region_keep[1] or self.region_min_cells < 1:
            raise ValueError("region_keep must be (low, high) with low <= high and region_min_cells >= 1")
        if not 0.0 < self.density_min <= self.density_max <= 1.0:
            raise ValueError(
                f"need 0 < density_min <= density_max <= 1, got {self.density_min}, {self.density_max}"
            )
        if min(self.max_patches, self.max_strokes) < 0 or self.patch_max < 1 or self.stroke_len < 1:
            raise ValueError("patch and stroke counts must be >= 0 and their sizes >= 1")


def _blocks(color: U8) -> npt.NDArray[np.uint8]:
    """[H, W, 3] -> [H/4, W/4, 4, 4, 3], one 4x4 block per hint cell."""
    s = contract.HINT_SCALE
    h, w = color.shape[0] // s, color.shape[1] // s
    return color[: h * s, : w * s].reshape(h, s, w, s, 3).swapaxes(1, 2)


def _check_color(color: U8) -> None:
    if color.ndim != 3 or color.shape[2] != 3 or color.dtype != np.uint8:
        raise ValueError(f"color image must be [H, W, 3] uint8 RGB, got {color.dtype} {color.shape}")
    if color.shape[0] % contract.HINT_SCALE or color.shape[1] % contract.HINT_SCALE:
        raise ValueError(f"color image size {color.shape[:2]} is not a multiple of {contract.HINT_SCALE}")


def cell_colors(color: U8) -> U8:
    """The hint-resolution colors [H/4, W/4, 3] uint8: mean of each 4x4 block's central 2x2 pixels."""
    _check_color(color)
    center = _blocks(color)[:, :, 1:3, 1:3].astype(np.uint16)
    # Round half up, in integers, so the value is exact and platform independent.
    return ((center.sum(axis=(2, 3)) + 2) // 4).astype(np.uint8)


def flat_cells(color: U8, tolerance: int = 24) -> Mask:
    """[H/4, W/4] bool: cells whose 4x4 block is one flat color (per-channel range <= tolerance)."""
    _check_color(color)
    b = _blocks(color)
    spread = b.max(axis=(2, 3)).astype(np.int16) - b.min(axis=(2, 3))
    return np.asarray(spread.max(axis=2) <= tolerance)


def hint_from_mask(color: U8, mask: Mask) -> F32:
    """The ``hint`` tensor [4, H/4, W/4] for a given cell mask: the paper's mask * color, then mask."""
    return encode_hint(cell_colors(color), np.asarray(mask, dtype=bool))


def _grow(
    cells: U8, allowed: Mask, mask: Mask, colors: U8, start: tuple[int, int],
    path: list[tuple[int, int]], tol: int,
) -> None:
    """Mark ``path`` cells that stay in the start cell's region with the start cell's color."""
    ref = cells[start].astype(np.int16)
    for y, x in path:
        inside = 0 <= y < mask.shape[0] and 0 <= x < mask.shape[1]
        if inside and allowed[y, x] and int(np.abs(cells[y, x].astype(np.int16) - ref).max()) <= tol:
            mask[y, x] = True
            colors[y, x] = cells[start]


def region_clicks(allowed: Mask, rng: np.random.Generator, keep: float, min_cells: int = 2) -> Mask:
    """One random cell in each region of flat cells (4-connected), each region kept with ``keep``."""
    count, labels = cv2.connectedComponents(allowed.astype(np.uint8), connectivity=4)
    mask = np.zeros(allowed.shape, bool)
    if count <= 1:
        return mask
    flat_labels = labels.ravel()
    order = np.argsort(flat_labels, kind="stable")
    bounds = np.searchsorted(flat_labels[order], np.arange(1, count + 1))
    for label in range(1, count):
        cells = order[bounds[label - 1] : bounds[label]]
        if len(cells) >= min_cells and rng.random() < keep:
            mask.flat[int(cells[rng.integers(len(cells))])] = True
    return mask


def sample_hint(color: U8, rng: np.random.Generator, cfg: HintConfig | None = None) -> F32:
    """A random ``hint`` tensor [4, H/4, W/4] for the color image ``color`` [H, W, 3] uint8 RGB."""
    cfg = cfg or HintConfig()
    cells = cell_colors(color)
    allowed = flat_cells(color, cfg.flat_tolerance)
    h, w = allowed.shape
    mask = np.zeros((h, w), bool)
    colors = cells.copy()
    if rng.random() < cfg.p_none:
        return encode_hint(colors, mask)

    points = rng.random() < cfg.p_points
    # p_regions == 0 draws nothing more, so the stream of older configs is unchanged.
    if points and cfg.p_regions > 0 and rng.random() < cfg.p_regions:
        # Only the clicks: a patch or stroke would put many hinted cells in some regions.
        return encode_hint(colors, region_clicks(allowed, rng, float(rng.uniform(*cfg.region_keep)),
                                                 cfg.region_min_cells))
    if points:
        # The paper's scheme: uniform matrix > per-sample threshold (1 - density).
        density = float(np.exp(rng.uniform(np.log(cfg.density_min), np.log(cfg.density_max))))
        mask |= (rng.random((h, w)) > 1.0 - density) & allowed

    candidates = np.argwhere(allowed)
    if len(candidates):
        for _ in range(int(rng.integers(0, cfg.max_patches + 1))):
            y, x = (int(v) for v in candidates[rng.integers(len(candidates))])
            k = int(rng.integers(1, cfg.patch_max + 1))
            path = [(y + dy, x + dx) for dy in range(k) for dx in range(k)]
            _grow(cells, allowed, mask, colors, (y, x), path, cfg.same_region_tolerance)
        for _ in range(int(rng.integers(0, cfg.max_strokes + 1))):
            y, x = (int(v) for v in candidates[rng.integers(len(candidates))])
            angle = rng.uniform(0, 2 * np.pi)
            length = int(rng.integers(2, cfg.stroke_len + 1))
            t = np.arange(length)
            bend = rng.uniform(-0.15, 0.15)
            ys = np.round(y + t * np.sin(angle + bend * t)).astype(int)
            xs = np.round(x + t * np.cos(angle + bend * t)).astype(int)
            _grow(cells, allowed, mask, colors, (y, x), list(zip(ys.tolist(), xs.tolist(), strict=True)),
                  cfg.same_region_tolerance)
    return encode_hint(colors, mask)


def spread_for_training(
    hint: F32, sketch: U8, rng: np.random.Generator, cfg: HintConfig | None = None
) -> F32:
    """``hint`` as the gateway would feed it for the gray ``sketch`` [H, W]: with probability
    ``cfg.p_spread``, grown 1..``cfg.spread_max`` cells over its closed regions
    (:func:`colorizer.imaging.spread.spread_hints`); otherwise as it is."""
    cfg = cfg or HintConfig()
    # p_spread == 0 draws nothing, so the stream of older configs is unchanged.
    if cfg.p_spread <= 0 or not (hint[3] > 0.5).any() or rng.random() >= cfg.p_spread:
        return hint
    return spread_hints(hint, sketch, int(rng.integers(1, cfg.spread_max + 1)))
