"""The plain U-Net comparison model: interface, cost, and loading from a checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from colorizer.checkpoint import generator_payload
from colorizer.eval.systems import TorchSystem, load_torch_model
from colorizer.model import build_generator, conv_gflops
from colorizer.model.generator import SwishGate
from colorizer.model.plain_unet import ARCH, PLAIN_PRESETS, PlainUNet, build_plain_unet


def test_same_interface_as_the_generator() -> None:
    model = build_plain_unet("tiny").eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, 64, 32), torch.rand(2, 4, 16, 8))
    assert out.shape == (2, 3, 64, 32)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert not any(isinstance(m, SwishGate) for m in model.modules())


@pytest.mark.parametrize("preset", sorted(PLAIN_PRESETS))
def test_flops_match_the_generator_preset(preset: str) -> None:
    plain = conv_gflops(build_plain_unet(preset), 64, 64)  # type: ignore[arg-type]
    sgru = conv_gflops(build_generator(preset), 64, 64)
    assert abs(plain / sgru - 1.0) < 0.10


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="5 levels"):
        PlainUNet((8, 16, 24))
    with pytest.raises(ValueError, match="preset"):
        build_plain_unet("huge")


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_plain_unet("tiny").eval()
    payload = generator_payload(model, "tiny")  # type: ignore[arg-type]
    payload["arch"] = ARCH
    path = tmp_path / "plain.pt"
    torch.save(payload, path)
    loaded, ckpt = load_torch_model(path)
    assert isinstance(loaded, PlainUNet) and ckpt["arch"] == ARCH
    sketch = np.full((32, 32), 255, np.uint8)
    hint = np.zeros((4, 8, 8), np.float32)
    with torch.no_grad():
        want = model(torch.ones(1, 1, 32, 32), torch.zeros(1, 4, 8, 8))[0]
    got = TorchSystem(path).colorize(sketch, hint)
    assert np.abs(got.astype(int) - np.moveaxis(want.numpy() * 255, 0, 2)).max() <= 1
