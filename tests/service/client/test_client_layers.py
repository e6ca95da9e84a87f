"""``colorize --psd/--layers/--paper`` and ``batch --psd/--layers`` against a real gateway."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from psd_tools import PSDImage

from colorizer.cli import main
from colorizer.imaging.layers import LAYER_NAMES
from service.client import ColorizeOptions


def write_sketch(path: Path, *, transparent: bool = False) -> Path:
    """A box with a disc inside (120x90); black ink on white, or on a transparent layer."""
    gray = np.full((90, 120), 255, np.uint8)
    cv2.rectangle(gray, (15, 10), (105, 80), 0, 2)
    cv2.circle(gray, (60, 45), 18, 0, 2)
    img = np.dstack([np.zeros((90, 120, 3), np.uint8), 255 - gray]) if transparent else gray
    assert cv2.imwrite(str(path), img)
    return path


def test_colorize_writes_the_image_and_the_layered_psd(
    server_address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sketch = write_sketch(tmp_path / "page.png", transparent=True)
    out, psd_path = tmp_path / "out" / "page.png", tmp_path / "out" / "page.psd"
    args = ["colorize", str(sketch), "-o", str(out), "--server", server_address, "--flat-fill"]
    assert main([*args, "--hint", "60,45,#ff0000,4", "--psd", str(psd_path)]) == 0
    assert f"{psd_path}: psd layers" in capsys.readouterr().out
    psd = PSDImage.open(psd_path)
    assert [layer.name for layer in psd] == list(LAYER_NAMES)
    image = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert image.shape == (90, 120, 4) and image[2, 2, 3] == 0 and image[45, 60, 3] == 255
    on_paper = tmp_path / "paper.png"
    assert main(["colorize", str(sketch), "-o", str(on_paper), "--server", server_address, "--paper"]) == 0
    assert cv2.imread(str(on_paper), cv2.IMREAD_UNCHANGED).shape == (90, 120, 3)


def test_colorize_psd_and_layers_exclude_each_other(tmp_path: Path) -> None:
    sketch = write_sketch(tmp_path / "s.png")
    with pytest.raises(SystemExit):
        main(["colorize", str(sketch), "-o", str(tmp_path / "o.png"), "--psd", "a.psd", "--layers", "a.zip"])
    with pytest.raises(ValueError, match="model_size"):
        ColorizeOptions(layers="psd", model_size=True)


def test_batch_writes_a_layers_zip_beside_each_image_and_resumes(
    server_address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    write_sketch(in_dir / "a.png")
    write_sketch(in_dir / "b.png", transparent=True)
    base = ["batch", str(in_dir), str(out_dir), "--server", server_address, "--no-progress"]
    assert main([*base, "--layers"]) == 0
    assert "2 done" in capsys.readouterr().out
    for name in ("a", "b"):
        archive = zipfile.ZipFile(io.BytesIO((out_dir / f"{name}.layers.zip").read_bytes()))
        manifest = json.loads(archive.read("layers.json"))
        assert [entry["name"] for entry in manifest["layers"]] == list(LAYER_NAMES)
    assert cv2.imread(str(out_dir / "b.png"), cv2.IMREAD_UNCHANGED).shape[2] == 4  # alpha kept
    # A rerun asking for PSDs colors again only to add them; a second one skips everything.
    assert main([*base, "--psd"]) == 0
    assert "2 done" in capsys.readouterr().out
    assert len(PSDImage.open(out_dir / "a.psd")) == len(LAYER_NAMES)
    assert main([*base, "--psd"]) == 0
    assert "0 done, 0 failed, 2 skipped" in capsys.readouterr().out
