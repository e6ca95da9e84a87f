"""The triton backend against a real local Triton (the tritonserver bundled in nvidia-pytriton).

Triton starts once for the module (slow); it serves a CPU twin of the test repository, the same
ONNX file the embedded backend runs, so both backends must give the same image.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import pytest_asyncio
from gateway_helpers import decode_rgb, png, sketch_image
from grpc_health.v1 import health_pb2, health_pb2_grpc

from export.triton_local import LocalTriton
from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc
from service.server import SERVICE_NAME, Gateway

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.triton, pytest.mark.slow]


@pytest.fixture(scope="module")
def triton(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTriton]:
    """A real Triton serving the tiny model, started once for the module."""
    server = LocalTriton(model_repository, workdir=tmp_path_factory.mktemp("triton"))
    server.start(timeout_s=180)
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateways(
    triton: LocalTriton, make_settings: Callable[..., Any]
) -> AsyncIterator[tuple[Gateway, Gateway]]:
    """An embedded-backend and a triton-backend gateway on the same model."""
    embedded = Gateway(make_settings())
    remote = Gateway(make_settings(backend="triton", triton_url=triton.grpc_url, readiness_poll_s=0.2))
    await embedded.start()
    await remote.start()
    yield embedded, remote
    await remote.stop(1)
    await embedded.stop(1)


async def _colorize(address: str, request: pb.ColorizeRequest, timeout: float = 30) -> pb.ColorizeResponse:
    async with grpc.aio.insecure_channel(address) as channel:
        return await pb_grpc.ColorizerStub(channel).Colorize(request, timeout=timeout)


async def _health(address: str) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5
        )
        return int(reply.status)


async def _wait_health(address: str, status: int, timeout_s: float) -> float:
    started = time.monotonic()
    while await _health(address) != status:
        assert time.monotonic() - started < timeout_s, f"health did not become {status} in {timeout_s} s"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_triton_gives_the_same_image_as_embedded(gateways: tuple[Gateway, Gateway]) -> None:
    embedded, remote = gateways
    hint = pb.PointHint(x=40, y=30, radius=8, color=pb.Color(r=20, g=200, b=40))
    request = pb.ColorizeRequest(sketch=png(sketch_image(90, 130, seed=7)), points=[hint])
    a = await _colorize(embedded.address, request)
    b = await _colorize(remote.address, request)
    image_a, image_b = decode_rgb(a.image).astype(int), decode_rgb(b.image).astype(int)
    assert image_a.shape == image_b.shape == (90, 130, 3)
    assert np.abs(image_a - image_b).max() <= 2  # same ONNX file, float rounding at most
    assert b.model_name == "colorizer" and b.model_version == "1"


async def test_triton_backend_batches_concurrent_requests(gateways: tuple[Gateway, Gateway]) -> None:
    _, remote = gateways
    data = png(sketch_image(64, 64))
    async with grpc.aio.insecure_channel(remote.address) as channel:
        stub = pb_grpc.ColorizerStub(channel)
        replies = await asyncio.gather(
            *(stub.Colorize(pb.ColorizeRequest(sketch=data), timeout=60) for _ in range(12))
        )
    assert all(r.width == 64 for r in replies)


async def test_triton_down_gives_unavailable_and_not_serving_then_recovers(
    triton: LocalTriton, gateways: tuple[Gateway, Gateway]
) -> None:
    _, remote = gateways
    request = pb.ColorizeRequest(sketch=png(sketch_image(48, 48)))
    assert await _health(remote.address) == health_pb2.HealthCheckResponse.SERVING

    await asyncio.to_thread(triton.kill)
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _colorize(remote.address, request, timeout=30)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE, info.value.details()
    assert time.monotonic() - started < 5  # promptly, not after the 30 s deadline
    await _wait_health(remote.address, health_pb2.HealthCheckResponse.NOT_SERVING, timeout_s=10)

    await asyncio.to_thread(triton.start, 180)  # same ports; the gateway is not restarted
    await _wait_health(remote.address, health_pb2.HealthCheckResponse.SERVING, timeout_s=15)
    reply = await _colorize(remote.address, request)
    assert (reply.width, reply.height) == (48, 48)
