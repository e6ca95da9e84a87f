"""The load generator against a real in-process gateway: counts, errors, bounds."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import grpc
import numpy as np

from bench.loadgen import LoadResult, run_load
from service.grpc_gen.colorizer.v1 import colorizer_pb2
from service.server import running_server
from service.settings import Settings


def _request(size: int = 64) -> colorizer_pb2.ColorizeRequest:
    img = np.full((size, size), 255, np.uint8)
    cv2.line(img, (0, 0), (size - 1, size - 1), 0, 2)
    ok, data = cv2.imencode(".png", img)
    assert ok
    return colorizer_pb2.ColorizeRequest(sketch=data.tobytes())


def _settings(root: Path) -> Settings:
    return Settings(
        host="127.0.0.1",
        port=0,
        metrics_port=0,
        model_repository=root,
        input_size=64,
        workers=1,
        intra_op_threads=1,
        max_wait_ms=2,
    )


def test_percentiles_and_throughput() -> None:
    result = LoadResult(sent=4, ok=4, latencies_s=[0.4, 0.1, 0.3, 0.2], wall_s=2.0)
    assert result.throughput() == 2.0
    assert result.percentile(0) == 0.1
    assert result.percentile(100) == 0.4
    assert math.isclose(result.percentile(50), 0.25)
    assert math.isnan(LoadResult().percentile(50))


async def test_total_bound_and_error_counting(tiny_repository: Path) -> None:
    good = _request()
    bad = colorizer_pb2.ColorizeRequest(sketch=b"not an image")
    async with running_server(_settings(tiny_repository)) as address:
        result = await run_load(address, [good, bad], concurrency=3, total=10)
        timed = await run_load(address, [good], concurrency=2, duration_s=0.5)
    assert result.sent == 10
    assert result.ok == 5
    assert result.codes == {"OK": 5, "INVALID_ARGUMENT": 5}
    assert len(result.latencies_s) == 5
    assert result.wall_s > 0
    assert timed.ok >= 1 and timed.codes.get("OK") == timed.ok


async def test_unreachable_target_counts_unavailable() -> None:
    result = await run_load("127.0.0.1:1", [_request()], concurrency=2, total=3, timeout_s=2)
    assert result.ok == 0
    assert result.codes.get(grpc.StatusCode.UNAVAILABLE.name) == 3
