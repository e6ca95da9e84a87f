"""Torch datasets of (sketch, hint, color) training triples, from image folders or synthetic data.

Every sample is made the same way whatever its source: a color image at training size -> the
sketch from :func:`colorizer.lines.extract_lines` and :func:`colorizer.encoding.encode_sketch`,
random hints from :func:`colorizer.data.hints.sample_hint`, and the color image itself as the
target. Randomness comes from a generator seeded by ``(seed, index)``, so a sample is the same
whichever worker or run draws it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from colorizer import contract
from colorizer.data.hints import HintConfig, sample_hint, spread_for_training
from colorizer.data.synth import render
from colorizer.encoding import U8, encode_sketch
from colorizer.lines import extract_lines

#: File suffixes read from an image folder.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")

Sample = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def make_sample(color: U8, rng: np.random.Generator, hint_cfg: HintConfig | None = None) -> Sample:
    """(sketch [1,H,W], hint [4,H/4,W/4], color [3,H,W]) float32 tensors for one RGB uint8 image."""
    contract.check_size(color.shape[0], color.shape[1])
    lines = extract_lines(color)
    sketch = encode_sketch(lines)
    hint = spread_for_training(sample_hint(color, rng, hint_cfg), lines, rng, hint_cfg)
    target = np.moveaxis(color, 2, 0).astype(np.float32) * np.float32(1.0 / 255.0)
    return torch.from_numpy(sketch), torch.from_numpy(hint), torch.from_numpy(np.ascontiguousarray(target))


def random_crop(
    image: U8, size: int, rng: np.random.Generator, *, scale: tuple[float, float] = (0.5, 1.0)
) -> U8:
    """A random square crop covering ``scale`` of the shorter side, resized to ``size``, maybe flipped."""
    h, w = image.shape[:2]
    side = min(h, w)
    crop = max(1, round(side * rng.uniform(*scale)))
    y = int(rng.integers(0, h - crop + 1))
    x = int(rng.integers(0, w - crop + 1))
    patch = image[y : y + crop, x : x + crop]
    # Area interpolation to shrink (keeps flat fills flat), cubic to enlarge.
    interp = cv2.INTER_AREA if crop >= size else cv2.INTER_CUBIC
    out = cv2.resize(patch, (size, size), interpolation=interp)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


class ImageFolderDataset(Dataset[Sample]):
    """Training triples from every image under ``root`` (any size; random crop, resize, flip).

    Index ``i`` belongs to pass ``i // len(files)`` over the folder, in an order shuffled per pass
    (seeded), so a trainer can simply count samples; ``length`` defaults to effectively endless.
    """

    def __init__(
        self, root: str | Path, size: int, *, seed: int = 0, hint_cfg: HintConfig | None = None,
        length: int | None = None,
    ) -> None:
        contract.check_size(size, size)
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"image folder {self.root} does not exist")
        self.files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {self.root}")
        self.size, self.seed, self.hint_cfg = size, seed, hint_cfg
        self.length = length or 10**9
        self._order: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        n = len(self.files)
        epoch = index // n
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch, 1]).permutation(n))
        path = self.files[int(self._order[1][index % n])]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"cannot read image {path}")
        rng = np.random.default_rng([self.seed, index])
        rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        color = random_crop(rgb, self.size, rng)
        return make_sample(color, rng, self.hint_cfg)


class SyntheticDataset(Dataset[Sample]):
    """Training triples from procedural illustrations drawn on the fly (seeded by index)."""

    def __init__(
        self, size: int, *, seed: int = 0, hint_cfg: HintConfig | None = None, length: int = 10**9
    ) -> None:
        contract.check_size(size, size)
        self.size, self.seed, self.hint_cfg, self.length = size, seed, hint_cfg, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        rng = np.random.default_rng([self.seed, index])
        color = render(rng, self.size).color
        if rng.random() < 0.5:
            color = np.ascontiguousarray(color[:, ::-1])
        return make_sample(color, rng, self.hint_cfg)


def fixed_batch(dataset: Dataset[Sample], indices: range | list[int]) -> Sample:
    """Stack the samples at ``indices`` into one batch (e.g. a fixed validation batch)."""
    items = [dataset[i] for i in indices]
    return tuple(torch.stack(parts) for parts in zip(*items, strict=True))  # type: ignore[return-value]
