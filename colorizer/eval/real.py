"""Real cases: human-drawn line art and its colors, as the data stage prepares them (``--set real``).

The data stage (``make data``, :mod:`colorizer.datasets`, not imported here: this module reads its
files only) writes, per source::

    ROOT/SOURCE/manifest.json     {"source", "version", "license", "attribution", "size",
                                   "pairs": [{"name", "drawing", "split", "how", ...}], ...}
    ROOT/SOURCE/lines/NAME.png    8-bit gray, 0 ink on 255 paper, antialiased: the source's own lines
    ROOT/SOURCE/color/NAME.png    8-bit RGBA, alpha 0 = the transparent paper

A case is one pair of the ``test`` split (:func:`real_case`):

* **sketch**: the source's *own* line art (never :func:`colorizer.lines.extract_lines`),
  area-downsampled to ``size`` (never upsampled);
* **truth**: the colors composited over white paper at full size, then area-downsampled (how a
  viewer shows the transparent drawing, and compositing commutes with the averaging);
* **regions**: the 4-connected components of the sketch's non-line pixels (gray >=
  :data:`~colorizer.eval.cases.LINE_THRESHOLD`, 250: see below), specks under
  :data:`~colorizer.eval.cases.MIN_REGION` px dropped. The region metrics look at the *figure*
  only: the region labels are 0 on the line pixels and on the transparent paper, which the
  paper error judges instead;
* **flat-region spread** looks at the regions whose truth is flat (:data:`FLAT_REGION_STD`), and
  regions are neighbours within :func:`neighbour_radius` px, wider than the source's strokes;
* **figure** mask: alpha > 0 and not line; **background** mask: alpha == 0 (after the area
  downsampling: no drawing at all under the pixel) and not line;
* **hints**: as a person gives them: points inside flat regions only. A hint cell's 4x4 block lies
  inside one region (no line pixel, no transparent paper in it) and the truth under it is nearly
  uniform (Lab standard deviation <= :data:`HINT_MAX_STD`: not on a gradient, a texture or an
  antialiased edge); the paper is never hinted. Ordered as
  :func:`~colorizer.eval.cases.place_hints` orders them (one per region, larger regions likely
  first, then more per region round-robin), so fewer hints are a prefix of more, and the first
  :attr:`~colorizer.eval.cases.Case.region_count` hints are one per hintable region (the
  ``region`` setting of ``--hints``).

Why line = gray < 250, as for the synthetic sketches (and the flood fill and hint seeds, which read
the same constant), rather than a mid gray: real line art is antialiased, and area-downsampling the
512 px files thins a stroke into light gray. A 1 px circle drawn at 512 and reduced to 128 px has
no pixel darker than 146: at a threshold of 200 (or 128) its inside and outside are one component;
at 250 the regions stay closed at every size down to 64. The antialiased fringe that 250 adds to
the lines is a blend of ink and fill in the truth too, so it is no loss to the per-pixel metrics.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from colorizer import contract
from colorizer.encoding import U8
from colorizer.eval.cases import (
    EVAL_SEED,
    LINE_THRESHOLD,
    MAX_HINTS,
    MIN_REGION,
    NEIGHBOUR_RADIUS,
    Case,
    place_hints,
    punch_gaps,
)
from colorizer.eval.color import srgb_to_lab
from colorizer.imaging import over_white

#: The sources the data stage knows, in report order; any subset may be prepared.
SOURCES = ("openmoji", "streamline", "facesjs", "openclipart")
#: Where ``make data`` writes the prepared pairs.
DEFAULT_ROOT = Path("data/real")
#: The split evaluated (training reads ``train``, model selection ``val``).
SPLIT = "test"
#: A hint cell's truth is "flat" when the standard deviation of its 4x4 block's CIELAB colors
#: (root mean squared distance to their mean) is at most this: below a just-noticeable difference
#: (about 2.3), so the hint color is the color a person picking it sees there.
HINT_MAX_STD = 2.0
#: A region counts in the flat-region spread only when its truth is flat: Lab standard deviation
#: (over the region eroded by one pixel) at most this. Real line art does not always separate
#: colors by lines (the stripes of a flag share one outline), and a spread the truth has is no fault.
FLAT_REGION_STD = 3.0


class NoRealData(ValueError):
    """Nothing prepared under the root (the message tells the user to run ``make data``)."""


def set_name(source: str) -> str:
    """The case-set name of one source in the report (``real: openmoji``)."""
    return f"real: {source}"


#: The case-set name of the union of all sources.
ALL_SET = "real: all"


def gapped_name(name: str, width: int) -> str:
    """The name of case set ``name`` with line gaps ``width`` px wide punched in (``--gap-widths``)."""
    return f"{name}, {width} px gaps"


def find_sources(root: Path, names: Sequence[str] | None = None) -> list[str]:
    """The prepared sources under ``root`` (a ``SOURCE/manifest.json`` each), in :data:`SOURCES`
    order; ``names`` restricts them (each must be known and prepared)."""
    if names:
        unknown = [n for n in names if n not in SOURCES]
        if unknown:
            raise ValueError(f"--sources: unknown {', '.join(unknown)} (known: {', '.join(SOURCES)})")
    found = [s for s in SOURCES if (root / s / "manifest.json").is_file()]
    if not found:
        raise NoRealData(
            f"no prepared real data under {root} (no {root}/SOURCE/manifest.json for any SOURCE of "
            f"{', '.join(SOURCES)}): run `make data` first, or pass --data-root"
        )
    if names:
        missing = [n for n in names if n not in found]
        if missing:
            raise NoRealData(
                f"--sources: {', '.join(missing)} not prepared under {root} "
                f"(prepared: {', '.join(found)}): run `make data` first"
            )
        return [s for s in SOURCES if s in names]
    return found


def load_manifest(source_dir: Path) -> dict[str, Any]:
    """The source's manifest, checked for the fields the evaluation reads."""
    path = source_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("pairs"), list):
        raise ValueError(f"{path}: no list of pairs")
    for pair in manifest["pairs"]:
        if not isinstance(pair, dict) or not isinstance(pair.get("name"), str) or "split" not in pair:
            raise ValueError(f"{path}: a pair without a name or split: {pair!r}")
    return manifest


def split_pairs(manifest: dict[str, Any], limit: int | None = None) -> list[dict[str, Any]]:
    """The pairs of the test split, one per drawing (the first by name: a drawing's skin-tone
    variants are one case, not five near-copies), sorted by name; ``limit`` keeps that many, chosen
    by a fixed hash of the name (a spread over the source, not its alphabetically first files)."""
    pairs = sorted((p for p in manifest["pairs"] if p["split"] == SPLIT), key=lambda p: str(p["name"]))
    seen: set[str] = set()
    unique = []
    for p in pairs:
        drawing = str(p.get("drawing", p["name"]))
        if drawing not in seen:
            seen.add(drawing)
            unique.append(p)
    pairs = unique
    if limit is not None and limit < len(pairs):
        chosen = sorted(pairs, key=lambda p: (zlib.crc32(str(p["name"]).encode()), str(p["name"])))[:limit]
        pairs = sorted(chosen, key=lambda p: str(p["name"]))
    return pairs


def _read(path: Path, channels: int) -> U8:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"cannot read {path}")
    if img.dtype != np.uint8:
        raise ValueError(f"{path}: expected 8-bit, got {img.dtype}")
    got = 1 if img.ndim == 2 else img.shape[2]
    if got != channels or img.shape[0] != img.shape[1]:
        raise ValueError(f"{path}: expected a square {channels}-channel image, got shape {img.shape}")
    return np.asarray(img, dtype=np.uint8)


def load_lines(path: Path) -> U8:
    """A ``lines/NAME.png``: gray uint8 [S, S], 0 ink on 255 paper."""
    return _read(path, 1)


def load_color(path: Path) -> U8:
    """A ``color/NAME.png``: RGBA uint8 [S, S, 4]."""
    return np.ascontiguousarray(cv2.cvtColor(_read(path, 4), cv2.COLOR_BGRA2RGBA))


def on_white(rgba: U8) -> U8:
    """RGBA -> RGB composited over white paper; the RGB under alpha 0 does not matter."""
    return over_white(rgba)


def _shrink(img: U8, size: int) -> U8:
    if img.shape[0] == size:
        return img
    if img.shape[0] < size:
        raise ValueError(f"a {img.shape[0]} px file cannot be evaluated at {size} px (never upsampled)")
    return np.ascontiguousarray(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA))


def flat_cells(truth: U8, max_std: float = HINT_MAX_STD) -> npt.NDArray[np.bool_]:
    """[H/4, W/4] bool: cells whose 4x4 block of ``truth`` is nearly one color (Lab std <= max_std)."""
    s = contract.HINT_SCALE
    h, w = truth.shape[0] // s, truth.shape[1] // s
    lab = srgb_to_lab(truth[: h * s, : w * s]).reshape(h, s, w, s, 3).swapaxes(1, 2).reshape(h, w, s * s, 3)
    var = ((lab - lab.mean(axis=2, keepdims=True)) ** 2).sum(axis=3).mean(axis=2)
    return np.asarray(np.sqrt(var) <= max_std)


def neighbour_radius(sketch: U8) -> int:
    """A neighbour radius wider than the sketch's lines: real strokes are often wider than the
    synthetic ones (an OpenMoji outline is about 7 px at 256). Twice the 95th percentile of the
    line pixels' distance to the paper (about the stroke width), plus 2; at least
    :data:`~colorizer.eval.cases.NEIGHBOUR_RADIUS`."""
    line = (sketch < LINE_THRESHOLD).astype(np.uint8)
    if not line.any():
        return NEIGHBOUR_RADIUS
    dist = cv2.distanceTransform(line, cv2.DIST_L2, 3)
    return max(NEIGHBOUR_RADIUS, int(np.ceil(2.0 * float(np.percentile(dist[line > 0], 95)))) + 2)


def flat_region_labels(
    truth_lab: npt.NDArray[np.float64], labels: npt.NDArray[np.int32]
) -> npt.NDArray[np.int32]:
    """``labels`` with every region whose truth is not flat (:data:`FLAT_REGION_STD`) set to 0."""
    out = labels.copy()
    kernel = np.ones((3, 3), np.uint8)
    for k in np.unique(labels):
        if k == 0:
            continue
        mask = cv2.erode((labels == k).astype(np.uint8), kernel).astype(bool)
        if not mask.any():
            continue
        px = truth_lab[mask]
        if float(np.sqrt(((px - px.mean(axis=0)) ** 2).sum(axis=1).mean())) > FLAT_REGION_STD:
            out[labels == k] = 0
    return out


def region_labels(
    sketch: U8, background: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
    """The region labels of the metrics (0 on lines, specks and the transparent paper) and the
    non-line mask: 4-connected components of the sketch's non-line pixels."""
    paper = np.asarray(sketch >= LINE_THRESHOLD)
    n, comp = cv2.connectedComponents(paper.astype(np.uint8), connectivity=4)
    labels = np.asarray(comp, dtype=np.int32)
    sizes = np.bincount(labels.ravel(), minlength=n)
    labels[(sizes < MIN_REGION)[labels]] = 0
    labels[~paper | background] = 0
    return labels, paper


def real_case(
    source_dir: Path,
    name: str,
    size: int = contract.DEFAULT_SIZE,
    *,
    seed: int = EVAL_SEED,
    source: str | None = None,
    gaps: int = 0,
    gap_width: int = 0,
) -> Case:
    """The case of pair ``name`` of the source folder ``source_dir`` at ``size`` (see the module
    docstring). ``gaps`` holes ``gap_width`` px wide punched into its lines (after everything else
    is taken from the closed sketch, as :func:`~colorizer.eval.cases.synthetic_case` does)."""
    contract.check_size(size, size)
    source = source or source_dir.name
    lines = load_lines(source_dir / "lines" / f"{name}.png")
    rgba = load_color(source_dir / "color" / f"{name}.png")
    if lines.shape != rgba.shape[:2]:
        raise ValueError(f"{source}/{name}: lines {lines.shape} and color {rgba.shape[:2]} differ in size")
    sketch = _shrink(lines, size)
    truth = _shrink(on_white(rgba), size)
    alpha = _shrink(np.ascontiguousarray(rgba[..., 3]), size)
    labels, paper = region_labels(sketch, alpha == 0)
    figure = np.asarray((alpha > 0) & paper)
    background = np.asarray((alpha == 0) & paper)
    rng = np.random.default_rng([seed, zlib.crc32(f"{source}/{name}".encode()), 7])
    count = max(MAX_HINTS, int(labels.max()))  # enough for one hint in every region
    hints = place_hints(truth, labels, rng, count, allowed=flat_cells(truth))
    case = Case(
        name=f"{source}/{name}",
        truth=truth,
        sketch=sketch,
        labels=labels,
        hints=hints,
        figure=figure,
        background=background,
        neighbour_radius=neighbour_radius(sketch),
    )
    case.flat_labels = flat_region_labels(case.truth_lab, labels)
    if gaps and gap_width:
        # The hints, labels and masks stay those of the closed sketch: a gap's truth is line.
        case.sketch = punch_gaps(
            sketch,
            np.random.default_rng([seed, zlib.crc32(case.name.encode()), 8]),
            gaps,
            (gap_width - 1) // 2,
        )
        case.name += f"-gaps{gaps}x{gap_width}"
    return case


def real_sets(
    root: Path,
    sources: Sequence[str] | None = None,
    size: int = contract.DEFAULT_SIZE,
    *,
    seed: int = EVAL_SEED,
    limit: int | None = None,
    gaps: int = 0,
    gap_widths: Sequence[int] = (),
) -> tuple[dict[str, list[Case]], dict[str, dict[str, Any]]]:
    """Per prepared source, ``real: SOURCE`` -> its test cases; and per source, the manifest facts
    for the report (version, license, attribution, cases). Sources without test pairs are left out;
    none at all raises :class:`NoRealData`. Per width of ``gap_widths`` also ``real: SOURCE, W px
    gaps``: the same cases with ``gaps`` holes W px wide punched into the lines."""
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be >= 1, got {limit}")
    sets: dict[str, list[Case]] = {}
    facts: dict[str, dict[str, Any]] = {}
    for source in find_sources(root, sources):
        folder = root / source
        manifest = load_manifest(folder)
        pairs = split_pairs(manifest, limit)
        if not pairs:
            continue
        cases = [real_case(folder, str(p["name"]), size, seed=seed, source=source) for p in pairs]
        sets[set_name(source)] = cases
        for width in gap_widths:
            sets[gapped_name(set_name(source), width)] = [
                real_case(folder, str(p["name"]), size, seed=seed, source=source, gaps=gaps, gap_width=width)
                for p in pairs
            ]
        facts[source] = {
            **{k: manifest.get(k) for k in ("version", "license", "attribution", "size")},
            "cases": len(cases),
            "hintable_regions_mean": float(np.mean([c.region_count for c in cases])),
        }
    if not sets:
        raise NoRealData(f"no {SPLIT}-split pairs in the prepared data under {root}: run `make data`")
    return sets, facts
