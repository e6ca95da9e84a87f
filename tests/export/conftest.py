"""Shared fixtures: a tiny-preset checkpoint exported once into a repository for the session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from colorizer.checkpoint import generator_payload
from colorizer.model import build_generator
from export.pipeline import ExportReport, export_checkpoint
from export.repository import BatchingPolicy

#: Small sizes keep the tests fast on two cores.
SIZE = 64
MAX_BATCH = 8


def make_checkpoint(path: Path, *, seed: int = 0, preset: str = "tiny", step: int = 7) -> Path:
    """A randomly initialised generator checkpoint with non-trivial BatchNorm statistics."""
    torch.manual_seed(seed)
    generator = build_generator(preset)
    with torch.no_grad():  # random running stats, so BN folding is really exercised
        for module in generator.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    payload = generator_payload(generator, preset)
    payload["step"] = step
    torch.save(payload, path)
    return path


@pytest.fixture(scope="session")
def checkpoint_factory() -> Callable[..., Path]:
    """:func:`make_checkpoint`, for tests that need another checkpoint."""
    return make_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a tiny-preset checkpoint."""
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="session")
def tiny_export(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportReport:
    """The tiny checkpoint exported (with parity at 1/3/8) into a fresh repository."""
    repository = tmp_path_factory.mktemp("repo")
    return export_checkpoint(tiny_checkpoint, repository, policy=BatchingPolicy(max_batch_size=MAX_BATCH),
                             parity_batches=(1, 3, 8), parity_size=SIZE)
