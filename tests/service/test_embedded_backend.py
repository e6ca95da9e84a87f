"""The embedded backend (ONNX Runtime in-process) stops a run whose deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from colorizer import contract
from service.backends.embedded import EmbeddedBackend
from service.errors import DeadlineExceededError

SIDE = 512


def _inputs(batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    sketch = rng.random((batch, 1, SIDE, SIDE), dtype=np.float32)
    hint = np.zeros((batch, 4, SIDE // contract.HINT_SCALE, SIDE // contract.HINT_SCALE), np.float32)
    return sketch, hint


async def test_a_run_past_its_deadline_is_stopped(make_settings: Callable[..., Any]) -> None:
    backend = EmbeddedBackend(make_settings(intra_op_threads=1))
    await backend.start()
    try:
        sketch, hint = _inputs(8)
        started = time.monotonic()
        full = await backend.infer(sketch, hint)
        full_s = time.monotonic() - started
        assert full.shape == (8, 3, SIDE, SIDE)
        # A deadline at a tenth of the run: ORT stops at a node boundary and says so.
        with pytest.raises(DeadlineExceededError, match="during inference"):
            await backend.infer(sketch, hint, timeout_s=full_s / 10)
        # The session is still good afterwards, and a generous deadline changes nothing.
        again = await backend.infer(sketch[:1], hint[:1], timeout_s=60)
        np.testing.assert_allclose(again[0], full[0], atol=1e-5)
        with pytest.raises(DeadlineExceededError, match="before inference"):
            await backend.infer(sketch[:1], hint[:1], timeout_s=0)
    finally:
        await backend.close()
