"""Datasets yield contract-shaped triples in the contract's ranges, from folders and synth."""

from pathlib import Path

import cv2
import pytest

from colorizer import contract
from colorizer.data.dataset import ImageFolderDataset, SyntheticDataset
from colorizer.data.synth import render_indexed


def _check(sample: tuple, size: int) -> None:
    sketch = sample[0]
    for t, spec in zip(sample, (contract.SKETCH, contract.HINT, contract.COLOR), strict=True):
        assert tuple(t.shape) == spec.shape(None, size, size)[1:]
        assert str(t.dtype) == "torch.float32"
        assert spec.low <= float(t.min()) and float(t.max()) <= spec.high
    assert float(sketch.mean()) > 0.5  # mostly paper


def test_synthetic_deterministic() -> None:
    ds = SyntheticDataset(64, seed=1)
    _check(ds[5], 64)
    assert all((x == y).all() for x, y in zip(ds[5], ds[5], strict=True))
    assert not (ds[5][2] == ds[6][2]).all()


def test_folder_any_size(tmp_path: Path) -> None:
    for i, (h, w) in enumerate([(100, 150), (40, 37)]):
        img = cv2.resize(render_indexed(0, i, 128).color, (w, h))
        cv2.imwrite(str(tmp_path / f"{i}.png"), img)
    ds = ImageFolderDataset(tmp_path, 32, seed=0)
    for i in range(4):
        _check(ds[i], 32)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no images"):
        ImageFolderDataset(tmp_path, 32)
    with pytest.raises(ValueError, match="multiples of"):
        SyntheticDataset(30)
