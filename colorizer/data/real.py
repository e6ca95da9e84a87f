"""Training triples from the real line-art pairs of ``colorizer data`` (``data/real/SOURCE``).

Unlike :class:`colorizer.data.dataset.ImageFolderDataset`, the sketch is the source's **own** line
art (``lines/NAME.png``), not lines extracted from the colors: that is what a person's drawing
looks like. Per sample, seeded by ``(seed, index)``:

* a random square crop covering ``scale`` (1/4 to all) of the side of the 512 px pair, resized
  to the training crop (area interpolation: lines get thinner as the drawing gets smaller). At a
  128 px crop the drawing is seen at the scale of a 128 to 512 px canvas, as a 256 px crop sees
  256 to 1024 px canvases; flipped half the time;
* transparent paper becomes white paper (the colors composited over white);
* line-style augmentation (:func:`line_style`): width (erode/dilate), softness (blur: scans and
  antialiasing), gray pencil ink, small gaps, a one-pixel jitter, so the model tolerates more
  than clean vector strokes;
* hints drawn from the true colors as the paper says (:func:`colorizer.data.hints.sample_hint`:
  points on flat cells, patches, strokes), kept only on the drawing itself: nobody hints the
  paper, and the model has to learn that unhinted paper stays white.

``root`` may also be a shard file (:mod:`colorizer.datasets.shard`: pairs at the training size in
one file, for a GPU machine that gets only the working tree). Only the splits asked for are read
(``train`` for training, ``val`` for the trainer's fixed validation batch); the test split is
never touched here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from colorizer import contract
from colorizer.data.dataset import Sample
from colorizer.data.hints import HintConfig, sample_hint, spread_for_training
from colorizer.datasets.shard import Shard
from colorizer.encoding import U8, encode_sketch
from colorizer.imaging import over_white


@dataclass(frozen=True)
class LineStyle:
    """Probabilities and ranges of the line-style augmentation."""

    p_width: float = 0.3
    p_blur: float = 0.3
    p_pencil: float = 0.25
    p_gaps: float = 0.25
    max_gaps: int = 6
    p_jitter: float = 0.2


def pair_files(
    root: Path, splits: Sequence[str], sources: Sequence[str] | None = None
) -> list[tuple[Path, str]]:
    """``(source folder, pair name)`` of every pair in ``splits`` under ``root``, sorted."""
    out: list[tuple[Path, str]] = []
    for manifest in sorted(root.glob("*/manifest.json")):
        folder = manifest.parent
        if sources is not None and folder.name not in sources:
            continue
        data = json.loads(manifest.read_text())
        out += [(folder, p["name"]) for p in data["pairs"] if p["split"] in splits]
    return out


def load_pair(folder: Path, name: str) -> tuple[U8, U8, U8]:
    """(RGB over white [H,W,3], alpha [H,W], lines [H,W]) of one prepared pair."""
    lines = cv2.imread(str(folder / "lines" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    bgra = cv2.imread(str(folder / "color" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
    if lines is None or bgra is None:
        raise ValueError(f"cannot read pair {name} under {folder}")
    return split_pair(np.asarray(bgra, np.uint8), np.asarray(lines, np.uint8))


def split_pair(bgra: U8, lines: U8) -> tuple[U8, U8, U8]:
    """(RGB over white, alpha, lines) from a BGRA color image and its gray line art."""
    if bgra.ndim != 3 or bgra.shape[2] != 4 or lines.shape != bgra.shape[:2]:
        raise ValueError(f"a pair needs BGRA colors and lines of one size, got {bgra.shape}, {lines.shape}")
    return (
        np.asarray(cv2.cvtColor(over_white(bgra), cv2.COLOR_BGR2RGB), np.uint8),
        np.ascontiguousarray(bgra[..., 3]),
        np.asarray(lines, np.uint8),
    )


def line_style(lines: U8, rng: np.random.Generator, style: LineStyle | None = None) -> U8:
    """Randomly restyled line art (0 ink on 255 paper), same size; see :class:`LineStyle`."""
    style = style or LineStyle()
    out = lines
    if rng.random() < style.p_width:
        kernel = np.ones((2, 2), np.uint8)
        # Erode the paper = thicker lines; dilate = thinner.
        out = np.asarray(
            cv2.erode(out, kernel) if rng.random() < 0.5 else cv2.dilate(out, kernel), np.uint8
        )
    if rng.random() < style.p_blur:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.4, 1.0))), np.uint8)
    if rng.random() < style.p_pencil:
        ink = float(rng.uniform(40, 110))  # the darkest ink is gray, like graphite
        out = (ink + out.astype(np.float32) * ((255.0 - ink) / 255.0)).astype(np.uint8)
    if rng.random() < style.p_gaps:
        ys, xs = np.nonzero(out < 128)
        out = out.copy()
        for i in rng.integers(0, len(ys), size=min(len(ys), int(rng.integers(1, style.max_gaps + 1)))):
            cv2.circle(out, (int(xs[i]), int(ys[i])), int(rng.integers(1, 3)), 255, -1)
    if rng.random() < style.p_jitter:
        dy, dx = (int(v) for v in rng.integers(-1, 2, size=2))
        out = np.roll(out, (dy, dx), axis=(0, 1))
    return np.ascontiguousarray(out)


class RealPairsDataset(Dataset[Sample]):
    """Training triples from prepared real pairs (see the module docstring)."""

    def __init__(
        self,
        root: str | Path,
        size: int,
        *,
        splits: Sequence[str] = ("train",),
        sources: Sequence[str] | None = None,
        seed: int = 0,
        hint_cfg: HintConfig | None = None,
        scale: tuple[float, float] = (0.25, 1.0),
        style: LineStyle | None = None,
        length: int = 10**9,
    ) -> None:
        contract.check_size(size, size)
        self.root = Path(root)
        # A shard file (colorizer.datasets.shard) holds its pairs already at the training size.
        self.shard = Shard(self.root) if self.root.is_file() else None
        if self.shard is not None:
            self.pairs = [(self.root, n) for n in self.shard.names]
        else:
            self.pairs = pair_files(self.root, splits, sources)
        if not self.pairs:
            raise ValueError(
                f"no prepared pairs of split {'/'.join(splits)} under {self.root} (run `make data`)"
            )
        self.size, self.seed, self.hint_cfg, self.scale = size, seed, hint_cfg, scale
        self.style = style or LineStyle()
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        rng = np.random.default_rng([self.seed, index, 5])
        n = len(self.pairs)
        order = np.random.default_rng([self.seed, index // n, 6]).permutation(n)
        k = int(order[index % n])
        if self.shard is not None:
            rgb, alpha, lines = split_pair(*self.shard.pair(k))
        else:
            rgb, alpha, lines = load_pair(*self.pairs[k])
        h, w = lines.shape
        side = min(h, w)
        crop = max(self.size // 2, round(side * rng.uniform(*self.scale)))
        crop = min(crop, side)
        y, x = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
        interp = cv2.INTER_AREA if crop >= self.size else cv2.INTER_CUBIC

        def fit(a: U8) -> U8:
            r = cv2.resize(
                np.ascontiguousarray(a[y : y + crop, x : x + crop]),
                (self.size, self.size),
                interpolation=interp,
            )
            return np.ascontiguousarray(r[:, ::-1] if flip else r, dtype=np.uint8)

        flip = rng.random() < 0.5
        color, alpha_s, sketch = fit(rgb), fit(alpha), fit(lines)
        sketch = line_style(sketch, rng, self.style)
        hint = spread_for_training(sample_hint(color, rng, self.hint_cfg), sketch, rng, self.hint_cfg)
        # Hints only on the drawing: a cell whose 4x4 block is mostly transparent paper is unhinted.
        s = contract.HINT_SCALE
        cell_alpha = cv2.resize(alpha_s, (self.size // s, self.size // s), interpolation=cv2.INTER_AREA)
        hint[:, cell_alpha < 128] = 0.0
        target = np.moveaxis(color, 2, 0).astype(np.float32) * np.float32(1.0 / 255.0)
        return (
            torch.from_numpy(encode_sketch(sketch)),
            torch.from_numpy(hint),
            torch.from_numpy(np.ascontiguousarray(target)),
        )


class MixedDataset(Dataset[Sample]):
    """Sample ``i`` comes from ``datasets[k]`` with probability ``weights[k]`` (seeded by ``i``)."""

    def __init__(
        self, datasets: Sequence[Dataset[Sample]], weights: Sequence[float], *, seed: int = 0
    ) -> None:
        if len(datasets) != len(weights) or not datasets:
            raise ValueError("one weight per dataset, at least one dataset")
        w = np.asarray(weights, np.float64)
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be >= 0 and not all 0, got {list(weights)}")
        self.datasets, self.cum, self.seed = list(datasets), np.cumsum(w / w.sum()), seed

    def __len__(self) -> int:
        return 10**9

    def __getitem__(self, index: int) -> Sample:
        u = np.random.default_rng([self.seed, index, 9]).random()
        k = min(int(np.searchsorted(self.cum, u, side="right")), len(self.datasets) - 1)
        return self.datasets[k][index]
