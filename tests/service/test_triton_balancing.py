"""The gateway's channel to Triton spreads calls over every Triton address (issue 17).

Two stand-in Triton servers in this process (the four calls the triton backend makes, KServe v2
protocol from tritonclient's own stubs; ``color`` is 0.5 everywhere) behind one gateway whose
``triton_url`` lists both. A real Triton is slow to start and gives nothing more here: what is
checked is which server each call reaches.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import numpy as np
import pytest_asyncio
from gateway_helpers import TEST_SIZE, png, sketch_image
from tritonclient.grpc import service_pb2 as tpb
from tritonclient.grpc import service_pb2_grpc as tpb_grpc

from colorizer import contract
from service.client.client import ColorizerClient, build_request
from service.server import Gateway


class FakeTriton(tpb_grpc.GRPCInferenceServiceServicer):
    """Live, the model ready at version 1, and an inference that counts itself."""

    def __init__(self) -> None:
        self.infers = 0

    async def ServerLive(self, request: Any, context: Any) -> Any:
        return tpb.ServerLiveResponse(live=True)

    async def ModelReady(self, request: Any, context: Any) -> Any:
        return tpb.ModelReadyResponse(ready=True)

    async def ModelMetadata(self, request: Any, context: Any) -> Any:
        return tpb.ModelMetadataResponse(name=request.name, versions=["1"], platform="onnxruntime_onnx")

    async def ModelInfer(self, request: Any, context: Any) -> Any:
        self.infers += 1
        n, _, h, w = next(t.shape for t in request.inputs if t.name == contract.SKETCH.name)
        color = np.full((n, 3, h, w), 0.5, np.float32)
        return tpb.ModelInferResponse(
            model_name=request.model_name,
            model_version="1",
            outputs=[tpb.ModelInferResponse.InferOutputTensor(name=contract.COLOR.name, datatype="FP32",
                                                              shape=list(color.shape))],
            raw_output_contents=[color.tobytes()],
        )


@pytest_asyncio.fixture
async def tritons() -> AsyncIterator[list[tuple[FakeTriton, int]]]:
    """Two stand-in Tritons on free ports: (servicer, port)."""
    servers, fakes = [], []
    for _ in range(2):
        fake, server = FakeTriton(), grpc.aio.server()
        tpb_grpc.add_GRPCInferenceServiceServicer_to_server(fake, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        servers.append(server)
        fakes.append((fake, port))
    yield fakes
    for server in servers:
        await server.stop(0)


async def _colorize(gateway: Gateway, n: int) -> None:
    request = build_request(png(sketch_image(TEST_SIZE, TEST_SIZE)))
    async with ColorizerClient(gateway.address, timeout_s=20) as client:
        for _ in range(n):
            await client.colorize(request)


async def test_the_gateway_spreads_calls_over_every_triton(
    tritons: list[tuple[FakeTriton, int]], make_settings: Callable[..., Any]
) -> None:
    url = "ipv4:" + ",".join(f"127.0.0.1:{port}" for _, port in tritons)
    gateway = Gateway(make_settings(backend="triton", triton_url=url))
    await gateway.start()
    try:
        await _colorize(gateway, 20)
    finally:
        await gateway.stop(1)
    counts = [fake.infers for fake, _ in tritons]
    assert sum(counts) == 20 and min(counts) >= 8, counts


async def test_an_aged_triton_channel_is_replaced_without_losing_a_call(
    tritons: list[tuple[FakeTriton, int]], make_settings: Callable[..., Any]
) -> None:
    """A new channel every 0.2 s (the readiness check renews it; it would re-resolve a dns:/// name):
    every call still answered, by both Tritons."""
    url = "ipv4:" + ",".join(f"127.0.0.1:{port}" for _, port in tritons)
    gateway = Gateway(make_settings(backend="triton", triton_url=url, triton_channel_max_age_s=0.2,
                                    triton_timeout_s=1.0))
    await gateway.start()
    try:
        for _ in range(4):
            await _colorize(gateway, 3)
            await asyncio.sleep(0.25)
        opened = gateway.backend.channels_opened  # type: ignore[attr-defined]
    finally:
        await gateway.stop(1)
    counts = [fake.infers for fake, _ in tritons]
    assert opened >= 3, opened
    assert sum(counts) == 12 and min(counts) >= 3, counts
