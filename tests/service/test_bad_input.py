"""Every kind of bad input gets INVALID_ARGUMENT with a message naming the problem (never INTERNAL)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import numpy as np
import pytest
import pytest_asyncio
from gateway_helpers import png, sketch_image

from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc
from service.server import Gateway

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAX_POINTS = 8
MAX_SKETCH_BYTES = 200_000
W, H = 100, 80
SKETCH = png(sketch_image(H, W))
RED = pb.Color(r=255, g=0, b=0)


def png_with_header_size(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares ``width`` x ``height`` (valid CRC) over a tiny real image."""
    data = bytearray(png(sketch_image(8, 8)))
    ihdr = data[12:29]  # b"IHDR" + 13 bytes of fields
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def point(x: float, y: float, color: pb.Color | None = RED, radius: float = 0) -> pb.PointHint:
    """A point hint (``color=None`` leaves the field unset)."""
    hint = pb.PointHint(x=x, y=y, radius=radius)
    if color is not None:
        hint.color.CopyFrom(color)
    return hint


def rgba_png(height: int, width: int) -> bytes:
    """An all-transparent RGBA PNG."""
    return png(np.zeros((height, width, 4), np.uint8))


# (case id, request fields, substrings the error message must contain)
CASES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("empty bytes", {"sketch": b""}, ("sketch", "empty")),
    ("not an image", {"sketch": b"hello, this is not an image at all"}, ("sketch", "image")),
    ("truncated png", {"sketch": png(sketch_image(64, 64))[:60]}, ("sketch", "truncated")),
    ("huge declared size", {"sketch": png_with_header_size(100_000, 100_000)}, ("sketch", "pixels")),
    ("zero-size image", {"sketch": png_with_header_size(0, 10)}, ("sketch", "zero")),
    ("too many bytes", {"sketch": b"\x89PNG" + bytes(MAX_SKETCH_BYTES)}, ("sketch", "bytes")),
    ("point x out of range", {"points": [point(900, 10)]}, ("points[0].x", "900")),
    ("point y negative", {"points": [point(10, -5)]}, ("points[0].y",)),
    ("point not finite", {"points": [point(float("nan"), 5)]}, ("points[0].x", "finite")),
    ("bad color", {"points": [point(10, 10, pb.Color(r=300, g=0, b=0))]}, ("points[0]", "300", "0..255")),
    ("missing color", {"points": [point(10, 10, None)]}, ("points[0].color",)),
    ("too many hints", {"points": [point(1, 1)] * (MAX_POINTS + 1)}, ("points", str(MAX_POINTS))),
    ("radius too large", {"points": [point(10, 10, radius=1e6)]}, ("points[0]", "radius")),
    ("stroke without points", {"strokes": [pb.StrokeHint(width=3, color=RED)]}, ("strokes[0].points",)),
    (
        "stroke out of range",
        {"strokes": [pb.StrokeHint(points=[pb.Point(x=1, y=1), pb.Point(x=1, y=500)], width=3, color=RED)]},
        ("strokes[0]", "500"),
    ),
    ("hint image wrong size", {"hint_image": rgba_png(H + 1, W)}, ("hint_image",)),
    ("hint image not an image", {"hint_image": b"nope"}, ("hint_image",)),
    (
        "bad quality",
        {"output": pb.OutputOptions(format=pb.IMAGE_FORMAT_JPEG, quality=150)},
        ("quality", "150"),
    ),
    ("unknown format", {"output": pb.OutputOptions(format=9)}, ("output.format", "9")),  # type: ignore[arg-type]
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stub(make_settings: Callable[..., Any]) -> AsyncIterator[pb_grpc.ColorizerStub]:
    """A stub on a gateway with small limits."""
    gateway = Gateway(make_settings(max_points=MAX_POINTS, max_sketch_bytes=MAX_SKETCH_BYTES))
    await gateway.start()
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        yield pb_grpc.ColorizerStub(channel)
    await gateway.stop(1)


@pytest.mark.parametrize(("fields", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_input_is_invalid_argument_naming_the_problem(
    stub: pb_grpc.ColorizerStub, fields: dict[str, Any], expected: tuple[str, ...]
) -> None:
    request = pb.ColorizeRequest(**{"sketch": SKETCH, **fields})
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Colorize(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    message = info.value.details() or ""
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert "Traceback" not in message


async def test_the_same_cases_on_a_stream_give_item_errors_and_the_stream_survives(
    stub: pb_grpc.ColorizerStub,
) -> None:
    requests = [pb.ColorizeRequest(request_id=c[0], **{"sketch": SKETCH, **c[1]}) for c in CASES]
    requests.append(pb.ColorizeRequest(request_id="fine", sketch=SKETCH))
    replies = {r.request_id: r async for r in stub.ColorizeStream(iter(requests), timeout=60)}
    assert set(replies) == {r.request_id for r in requests}
    assert replies["fine"].WhichOneof("outcome") == "result"
    for case_id, _, _ in CASES:
        assert replies[case_id].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0], case_id
