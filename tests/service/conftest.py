"""Fixtures for the gateway tests: a tiny random-weight model repository, settings, images, stubs.

The ONNX file is exported once per session from a randomly initialised ``tiny`` generator with
the export stage's own function, so the tests need no trained weights and no network.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gateway_helpers import TEST_SIZE


@pytest.fixture(scope="session")
def model_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Triton-layout repository with the tiny generator as colorizer/1/model.onnx + config.pbtxt."""
    import torch

    from colorizer.model import build_generator
    from export import repository
    from export.onnx_export import export_onnx

    root = tmp_path_factory.mktemp("model_repository")
    torch.manual_seed(0)
    generator = build_generator("tiny").eval()
    # At PyTorch's default init the random net's output is ~0.5 everywhere and a hint moves it by
    # far less than one 8-bit level; a conv gain of 3 makes it respond visibly (and still finitely).
    with torch.no_grad():
        for module in generator.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.mul_(3.0)
    export_onnx(generator, repository.onnx_path(root))
    policy = repository.BatchingPolicy(max_batch_size=8, max_queue_delay_us=2000)
    repository.write_config(
        repository.onnx_config(policy, warmup_size=TEST_SIZE), repository.config_path(root)
    )
    return root


@pytest.fixture(scope="session")
def make_settings(model_repository: Path) -> Callable[..., Any]:
    """Settings for an in-process test gateway: free ports, the tiny model, small canvas."""
    from service.settings import Settings

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = dict(
            host="127.0.0.1",
            port=0,
            metrics_port=0,
            model_repository=model_repository,
            input_size=TEST_SIZE,
            # One canvas for the tests that are not about canvases (they set it themselves).
            max_canvas=TEST_SIZE,
            workers=2,
            intra_op_threads=1,
            max_wait_ms=20,
            grace_s=5,
            readiness_poll_s=0.2,
        )
        values.update(overrides)
        return Settings(**values)

    return make
