"""The page around the figure comes back white (COLORIZER_KEEP_PAPER), through a real embedded
gateway and a real stub; the figure keeps the model's colors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import grpc
import numpy as np
import pytest
from gateway_helpers import decode_rgb, png

from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc
from service.server import Gateway

pytestmark = pytest.mark.asyncio(loop_scope="function")

SIDE = 128


def _sketch() -> np.ndarray:
    """A closed box on a page: the page reaches the border, the box does not."""
    image = np.full((SIDE, SIDE), 255, np.uint8)
    cv2.rectangle(image, (32, 32), (96, 96), 0, 2)
    return image


async def _colorize(settings: Any, points: list[pb.PointHint]) -> np.ndarray:
    gw = Gateway(settings)
    await gw.start()
    try:
        async with grpc.aio.insecure_channel(gw.address) as channel:
            req = pb.ColorizeRequest(
                sketch=png(_sketch()), points=points, output=pb.OutputOptions(size=pb.OUTPUT_SIZE_MODEL)
            )
            reply = await pb_grpc.ColorizerStub(channel).Colorize(req, timeout=60)
    finally:
        await gw.stop(1)
    return decode_rgb(reply.image)


def _regions() -> tuple[np.ndarray, np.ndarray]:
    """(page, box inside) masks, 4 px clear of the lines."""
    ink = cv2.dilate((_sketch() < 250).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    inside = np.zeros((SIDE, SIDE), bool)
    inside[34:95, 34:95] = True
    return ~ink & ~inside, ~ink & inside


CLICK = [pb.PointHint(x=64, y=64, color=pb.Color(r=230, g=20, b=20), radius=3)]


async def test_the_unhinted_page_is_white_and_the_figure_is_the_models(
    make_settings: Callable[..., Any],
) -> None:
    assert make_settings().keep_paper  # on by default
    kept = await _colorize(make_settings(max_canvas=SIDE, input_size=SIDE), CLICK)
    raw = await _colorize(make_settings(max_canvas=SIDE, input_size=SIDE, keep_paper=False), CLICK)
    page, box = _regions()
    assert (kept[page] == 255).all()
    # The random test model paints the page gray: the setting is what made it white.
    assert (raw[page] < 250).any(axis=1).mean() > 0.5
    np.testing.assert_array_equal(kept[box], raw[box])


async def test_a_clicked_page_keeps_the_models_colors(make_settings: Callable[..., Any]) -> None:
    # A click on the page says the user wants it colored: it is not paper any more.
    on_page = [*CLICK, pb.PointHint(x=12, y=12, color=pb.Color(r=20, g=40, b=230), radius=3)]
    kept = await _colorize(make_settings(max_canvas=SIDE, input_size=SIDE), on_page)
    raw = await _colorize(make_settings(max_canvas=SIDE, input_size=SIDE, keep_paper=False), on_page)
    np.testing.assert_array_equal(kept, raw)
