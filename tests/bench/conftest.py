"""Fixtures for the benchmark tests: a tiny random-weight model repository (no trained weights)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Canvas side of the tiny test model (small: fast on 2 cores).
BENCH_TEST_SIZE = 64


@pytest.fixture(scope="session")
def tiny_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Triton-layout repository holding the ``tiny`` generator as colorizer/1/model.onnx."""
    import torch

    from colorizer.model import build_generator
    from export import repository
    from export.onnx_export import export_onnx

    root = tmp_path_factory.mktemp("bench_repository")
    torch.manual_seed(0)
    generator = build_generator("tiny").eval()
    export_onnx(generator, repository.onnx_path(root))
    policy = repository.BatchingPolicy(max_batch_size=8, max_queue_delay_us=2000)
    repository.write_config(
        repository.onnx_config(policy, warmup_size=BENCH_TEST_SIZE), repository.config_path(root)
    )
    return root
