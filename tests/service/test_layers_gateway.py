"""Layered output and kept alpha through the gateway (a real aio server on a socket, a real stub),
and the PSD it returns opened by a real GIMP 2.10 in batch mode (scripts/gimp_check.py, which runs
Debian's own package, fetched by ``make gimp`` or on first use)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import cv2
import grpc
import numpy as np
import pytest
import pytest_asyncio
from gateway_helpers import png
from psd_tools import PSDImage

from colorizer.imaging.layers import LAYER_NAMES
from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc
from service.server import Gateway

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parents[2]
H, W = 120, 160


def figure(*, transparent: bool) -> np.ndarray:
    """A hand-made page: a box with a disc inside; black ink on white, or on a transparent layer."""
    gray = np.full((H, W), 255, np.uint8)
    cv2.rectangle(gray, (20, 15), (140, 105), 0, 2, cv2.LINE_AA)
    cv2.circle(gray, (80, 60), 25, 0, 2, cv2.LINE_AA)
    if not transparent:
        return gray
    return np.dstack([np.zeros((H, W, 3), np.uint8), 255 - gray])  # BGRA: ink as alpha


HINTS = [
    pb.PointHint(x=80, y=60, color=pb.Color(r=230, g=40, b=40), radius=4),
    pb.PointHint(x=35, y=90, color=pb.Color(r=40, g=60, b=220), radius=4),
]


def request(sketch: np.ndarray, **output: Any) -> pb.ColorizeRequest:
    return pb.ColorizeRequest(sketch=png(sketch), points=HINTS, output=pb.OutputOptions(**output))


def decode(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None
    return cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stub(make_settings: Callable[..., Any]) -> AsyncIterator[pb_grpc.ColorizerStub]:
    gateway = Gateway(make_settings())
    await gateway.start()
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        yield pb_grpc.ColorizerStub(channel)
    await gateway.stop(1)


async def test_psd_layers_come_back_named_in_order_and_compose_the_flat_result(
    stub: pb_grpc.ColorizerStub,
) -> None:
    reply = await stub.Colorize(
        request(figure(transparent=False), flat_fill=True, layers=pb.LAYERS_FORMAT_PSD), timeout=60
    )
    assert reply.layers_format == pb.LAYERS_FORMAT_PSD
    psd = PSDImage.open(io.BytesIO(reply.layers))
    assert [layer.name for layer in psd] == list(LAYER_NAMES)
    assert all(layer.size == (W, H) for layer in psd)
    assert [layer.name for layer in psd if layer.visible] == ["Flats", "Line art"]
    flat = decode(reply.image)
    assert flat.shape == (H, W, 3)  # an opaque sketch: RGB, as before
    assert (np.asarray(psd.topil())[..., :3] == flat).all()
    # The flats hold the hints' colors in the hinted regions.
    flats = np.asarray(psd[1].topil())
    assert tuple(flats[60, 80, :3]) == (230, 40, 40) and tuple(flats[90, 35, :3]) == (40, 60, 220)


async def test_zip_layers_and_no_layers_unless_asked(stub: pb_grpc.ColorizerStub) -> None:
    reply = await stub.Colorize(request(figure(transparent=False), layers=pb.LAYERS_FORMAT_ZIP), timeout=60)
    archive = zipfile.ZipFile(io.BytesIO(reply.layers))
    manifest = json.loads(archive.read("layers.json"))
    assert [entry["name"] for entry in manifest["layers"]] == list(LAYER_NAMES)
    assert len(archive.namelist()) == len(LAYER_NAMES) + 2
    plain = await stub.Colorize(request(figure(transparent=False)), timeout=60)
    assert plain.layers == b"" and plain.layers_format == pb.LAYERS_FORMAT_UNSPECIFIED


@pytest.mark.parametrize("fmt", [pb.IMAGE_FORMAT_PNG, pb.IMAGE_FORMAT_WEBP])
async def test_a_transparent_background_is_kept_unless_paper_is_asked(
    stub: pb_grpc.ColorizerStub, fmt: int
) -> None:
    sketch = figure(transparent=True)
    kept = decode((await stub.Colorize(request(sketch, format=fmt, flat_fill=True), timeout=60)).image)
    assert kept.shape == (H, W, 4)
    assert kept[2, 2, 3] == 0 and kept[H - 3, W - 3, 3] == 0  # outside the figure: transparent
    assert kept[60, 80, 3] == 255 and kept[90, 35, 3] == 255  # inside: colored, opaque
    paper = decode(
        (await stub.Colorize(request(sketch, format=fmt, flat_fill=True, paper=True), timeout=60)).image
    )
    assert paper.shape == (H, W, 3)
    assert (paper[2, 2] >= 250).all()  # white paper outside
    assert np.abs(paper[60, 80].astype(int) - kept[60, 80, :3]).max() <= 3


async def test_the_psd_keeps_the_transparent_background_and_jpeg_is_on_paper(
    stub: pb_grpc.ColorizerStub,
) -> None:
    sketch = figure(transparent=True)
    reply = await stub.Colorize(request(sketch, layers=pb.LAYERS_FORMAT_PSD), timeout=60)
    flats = np.asarray(PSDImage.open(io.BytesIO(reply.layers))[1].topil())
    assert flats[2, 2, 3] == 0 and flats[60, 80, 3] == 255
    jpeg = await stub.Colorize(request(sketch, format=pb.IMAGE_FORMAT_JPEG), timeout=60)
    assert decode(jpeg.image).shape == (H, W, 3) and (decode(jpeg.image)[2, 2] >= 245).all()


async def test_layers_at_model_size_or_of_an_unknown_format_are_refused(stub: pb_grpc.ColorizerStub) -> None:
    for output, field in (
        (dict(layers=pb.LAYERS_FORMAT_PSD, size=pb.OUTPUT_SIZE_MODEL), "output.layers works on"),
        (dict(layers=7), "output.layers=7"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Colorize(request(figure(transparent=False), **output), timeout=60)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in (info.value.details() or "")


async def test_gimp_opens_the_psd_with_its_layers_and_the_flat_composite(
    stub: pb_grpc.ColorizerStub, tmp_path: Path
) -> None:
    reply = await stub.Colorize(
        request(figure(transparent=False), flat_fill=True, layers=pb.LAYERS_FORMAT_PSD), timeout=60
    )
    psd, merged = tmp_path / "page.psd", tmp_path / "gimp-composite.png"
    psd.write_bytes(reply.layers)
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gimp_check.py"), str(psd), "--composite", str(merged)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert (report["width"], report["height"]) == (W, H)
    gimp_layers = report["layers"][::-1]  # GIMP lists the top layer first
    assert [layer["name"] for layer in gimp_layers] == list(LAYER_NAMES)
    assert all((layer["width"], layer["height"], layer["left"], layer["top"]) == (W, H, 0, 0)
               for layer in gimp_layers)
    assert [layer["visible"] for layer in gimp_layers] == [False, True, False, True, False]
    assert [layer["mode"] for layer in gimp_layers] == ["normal", "normal", "multiply", "normal", "normal"]
    # Transparency is the layers' own alpha, not a layer mask over an opaque layer.
    assert all(layer["has_alpha"] and not layer["has_mask"] for layer in gimp_layers)
    # GIMP's own compositing of the visible layers gives the flat-fill image the gateway returned.
    composite = decode(merged.read_bytes())
    flat = decode(reply.image)
    assert composite.shape[:2] == (H, W)
    diff = np.abs(composite[..., :3].astype(int) - flat)
    assert diff.max() <= 2, f"GIMP's composite differs by up to {diff.max()}"
    assert composite.shape[2] == 3 or (composite[..., 3] == 255).all()


async def test_a_layered_file_too_big_for_one_message_is_refused_clearly(
    make_settings: Callable[..., Any],
) -> None:
    # Room for the request and a flat-fill PNG (a few kB), not for the layers of a 160x120 page,
    # whose "Colors" layer holds the random model's noisy colors (~60 kB).
    gateway = Gateway(make_settings(max_message_bytes=30_000))
    await gateway.start()
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            small = pb_grpc.ColorizerStub(channel)
            psd_request = request(figure(transparent=False), flat_fill=True, layers=pb.LAYERS_FORMAT_PSD)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await small.Colorize(psd_request, timeout=60)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "output.layers" in (info.value.details() or "")
            assert "max_message_bytes" in (info.value.details() or "")
            flat = await small.Colorize(request(figure(transparent=False), flat_fill=True), timeout=60)
            assert flat.layers == b"" and len(flat.image) < 30_000
    finally:
        await gateway.stop(1)
