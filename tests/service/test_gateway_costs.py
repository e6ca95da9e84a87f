"""The gateway's cost settings (issue 15) on real gateways: each changes how, never what, it answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import cv2
import grpc
import numpy as np
import pytest
from gateway_helpers import metric_value, png, scrape, sketch_image

from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc
from service.server import Gateway
from service.settings import Settings


def _request() -> pb.ColorizeRequest:
    return pb.ColorizeRequest(
        sketch=png(sketch_image(96, 120)),
        points=[pb.PointHint(x=30, y=40, color=pb.Color(r=220, g=40, b=40), radius=6)],
        output=pb.OutputOptions(format=pb.IMAGE_FORMAT_PNG),
    )


async def _colorize(settings: Settings, n: int = 1) -> tuple[list[pb.ColorizeResponse], dict[str, float]]:
    gw = Gateway(settings)
    await gw.start()
    try:
        async with grpc.aio.insecure_channel(gw.address) as channel:
            stub = pb_grpc.ColorizerStub(channel)
            before = scrape(gw.metrics_port)
            replies = await asyncio.gather(*(stub.Colorize(_request(), timeout=60) for _ in range(n)))
            after = scrape(gw.metrics_port)
        counts = {
            k: metric_value(after, k) - metric_value(before, k)
            for k in ("colorizer_batch_size_count", "colorizer_batch_size_sum")
        }
        return list(replies), counts
    finally:
        await gw.stop(1)


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED))


async def test_fpng_and_libpng_answer_the_same_pixels(make_settings: Callable[..., Any]) -> None:
    (fast,), _ = await _colorize(make_settings(png_encoder="fpng"))
    (small,), _ = await _colorize(make_settings(png_encoder="libpng"))
    assert fast.image.startswith(b"\x89PNG") and small.image.startswith(b"\x89PNG")
    assert fast.image != small.image  # two different writers ran
    assert np.array_equal(_pixels(fast.image), _pixels(small.image))  # both lossless


def test_png_encoder_setting_is_checked() -> None:
    with pytest.raises(ValueError, match="png_encoder"):
        Settings(png_encoder="gif")  # type: ignore[arg-type]


async def test_no_batch_wait_still_batches_under_load(make_settings: Callable[..., Any]) -> None:
    # max_wait_ms=0 (the default): requests that queue while a batch runs form the next one.
    replies, counts = await _colorize(make_settings(max_wait_ms=0, max_batch_size=8), n=24)
    assert len(replies) == 24 and all(r.image for r in replies)
    assert counts["colorizer_batch_size_sum"] == 24  # every image went through a batch
    assert counts["colorizer_batch_size_count"] < 24  # so at least one batch held more than one


async def test_opencv_is_held_to_the_configured_threads(make_settings: Callable[..., Any]) -> None:
    previous = cv2.getNumThreads()
    try:
        cv2.setNumThreads(2)
        await _colorize(make_settings(opencv_threads=1))
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(previous)
