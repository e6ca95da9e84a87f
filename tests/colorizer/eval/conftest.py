"""Shared fixtures of the evaluation tests: hand-made cases and a tiny checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from colorizer.checkpoint import generator_payload
from colorizer.eval.cases import Case
from colorizer.eval.metrics import Hint
from colorizer.model import build_generator

#: Colors of the two-region case (tests read them back from ``case.truth``).
RED = (220, 30, 30)
BLUE = (30, 60, 200)


def _two_regions(gap: bool = False, size: int = 64) -> Case:
    """Left half red, right half blue, a 2-px black line between them (with a hole when ``gap``);
    one hint in each half (the red one first)."""
    truth = np.empty((size, size, 3), np.uint8)
    truth[:, : size // 2] = RED
    truth[:, size // 2 :] = BLUE
    sketch = np.full((size, size), 255, np.uint8)
    sketch[:, size // 2 - 1 : size // 2 + 1] = 0
    truth[:, size // 2 - 1 : size // 2 + 1] = 0
    labels = np.zeros((size, size), np.int32)
    labels[:, : size // 2 - 1] = 1
    labels[:, size // 2 + 1 :] = 2
    if gap:
        sketch[size // 2 - 3 : size // 2 + 3, size // 2 - 1 : size // 2 + 1] = 255
    hints = [Hint(row=8, col=2, rgb=RED, label=1), Hint(row=8, col=13, rgb=BLUE, label=2)]
    name = "two-regions" + ("-gap" if gap else "")
    return Case(name=name, truth=truth, sketch=sketch, labels=labels, hints=hints)


@pytest.fixture
def two_regions() -> Callable[..., Case]:
    """Factory of the two-region case: left red, right blue, a line between (``gap=True``: with a hole)."""
    return _two_regions


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised tiny-preset generator checkpoint."""
    torch.manual_seed(0)
    payload = generator_payload(build_generator("tiny"), "tiny")
    payload["step"] = 3
    path = tmp_path_factory.mktemp("eval-ckpt") / "tiny.pt"
    torch.save(payload, path)
    return path
