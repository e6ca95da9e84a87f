"""Canvas per request and the line-guided upscale, through a real embedded gateway and a real stub."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import cv2
import grpc
import numpy as np
import pytest
import pytest_asyncio
from gateway_helpers import decode_rgb, png

from colorizer import imaging
from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc
from service.server import Gateway

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: The range these tests serve: canvases 64..192 in steps of 64.
LOW, HIGH, STEP = 64, 192, 64


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stub(make_settings: Callable[..., Any]) -> AsyncIterator[pb_grpc.ColorizerStub]:
    gw = Gateway(make_settings(input_size=LOW, max_canvas=HIGH, canvas_step=STEP, max_wait_ms=5))
    await gw.start()
    async with grpc.aio.insecure_channel(gw.address) as channel:
        yield pb_grpc.ColorizerStub(channel)
    await gw.stop(1)


def _boxes(height: int, width: int) -> np.ndarray:
    """Two boxes split by a wall, 3 px lines: the sketch whose color edge must stay on the wall."""
    image = np.full((height, width), 255, np.uint8)
    cv2.rectangle(image, (4, 4), (width - 5, height - 5), 0, 3)
    cv2.line(image, (width // 2, 4), (width // 2, height - 5), 0, 3)
    return image


def _hints(height: int, width: int) -> list[pb.PointHint]:
    return [
        pb.PointHint(x=width / 4, y=height / 2, color=pb.Color(r=230, g=20, b=20), radius=8),
        pb.PointHint(x=3 * width / 4, y=height / 2, color=pb.Color(r=20, g=40, b=230), radius=8),
    ]


async def _colorize(stub: pb_grpc.ColorizerStub, image: np.ndarray, **kwargs: Any) -> pb.ColorizeResponse:
    h, w = image.shape
    req = pb.ColorizeRequest(sketch=png(image), points=_hints(h, w), **kwargs)
    return await stub.Colorize(req, timeout=60)


async def test_model_info_reports_the_canvas_range(stub: pb_grpc.ColorizerStub) -> None:
    info = await stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
    assert (info.input_size, info.max_canvas, info.canvas_step) == (LOW, HIGH, STEP)


@pytest.mark.parametrize(
    ("shape", "asked", "side"),
    [
        ((40, 50), 0, 64),  # small: the smallest canvas
        ((100, 70), 0, 128),  # long side 100 -> rounded up to the step
        ((300, 500), 0, 192),  # large: capped at max_canvas
        ((300, 500), 80, 80),  # the request's own choice, any multiple of the stride in range
    ],
)
async def test_the_canvas_follows_the_sketch_or_the_request(
    stub: pb_grpc.ColorizerStub, shape: tuple[int, int], asked: int, side: int
) -> None:
    reply = await _colorize(
        stub, _boxes(*shape), canvas=asked, output=pb.OutputOptions(size=pb.OUTPUT_SIZE_MODEL)
    )
    assert (reply.width, reply.height) == (side, side)


@pytest.mark.parametrize("asked", [48, 100, 256])
async def test_a_canvas_off_the_range_or_stride_is_invalid(stub: pb_grpc.ColorizerStub, asked: int) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _colorize(stub, _boxes(64, 64), canvas=asked)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "canvas" in (info.value.details() or "")


async def test_an_unknown_upscale_is_invalid(stub: pb_grpc.ColorizerStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _colorize(stub, _boxes(64, 64), output=pb.OutputOptions(upscale=7))  # type: ignore[arg-type]
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "output.upscale" in (info.value.details() or "")


async def test_guided_is_the_default_and_is_the_library_upsampler_on_the_model_canvas(
    stub: pb_grpc.ColorizerStub,
) -> None:
    sketch = _boxes(300, 500)  # canvas 192: 2.6x up
    canvas_reply = await _colorize(stub, sketch, output=pb.OutputOptions(size=pb.OUTPUT_SIZE_MODEL))
    default = decode_rgb((await _colorize(stub, sketch)).image)
    guided = decode_rgb(
        (await _colorize(stub, sketch, output=pb.OutputOptions(upscale=pb.UPSCALE_GUIDED))).image
    )
    resized = decode_rgb(
        (await _colorize(stub, sketch, output=pb.OutputOptions(upscale=pb.UPSCALE_RESIZE))).image
    )

    colors = decode_rgb(canvas_reply.image)
    fit = imaging.Canvas.fit(300, 500, HIGH)
    content = np.ascontiguousarray(
        colors[fit.top : fit.top + fit.content_h, fit.left : fit.left + fit.content_w]
    )
    expected = imaging.overlay_lines(imaging.guided_upsample(content, sketch), sketch)
    assert np.array_equal(default, guided)
    assert np.array_equal(guided, expected)
    assert np.array_equal(resized, imaging.restore_size(colors, fit))
    # Guided draws the sketch's own lines (crisp ink); the plain resize leaves the model's.
    wall = sketch < 10
    assert (guided[wall] <= 10).all()
    assert not np.array_equal(guided, resized)
