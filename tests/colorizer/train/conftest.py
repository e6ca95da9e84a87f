"""Shared settings for trainer tests: tiny model, tiny crops, no workers."""

from pathlib import Path

import pytest

from colorizer.train.config import TrainConfig


@pytest.fixture
def tiny_cfg(tmp_path: Path) -> TrainConfig:
    """A config that trains the tiny preset on 32x32 synthetic crops in well under a second a step."""
    return TrainConfig(
        preset="tiny", crop=32, batch_size=2, steps=4, out=str(tmp_path / "run"), workers=0, threads=1,
        log_every=1, val_every=2, sample_every=2, ckpt_every=2, val_size=2, adv_start=1,
    )
