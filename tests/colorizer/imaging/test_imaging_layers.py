"""Layered output and kept alpha, on hand-made pages: the layer stack, its PSD (read back with
psd-tools) and zip, the output alpha of transparent sketches, RGBA encoding."""

from __future__ import annotations

import io
import json
import zipfile

import cv2
import numpy as np
import pytest
from psd_tools import PSDImage
from psd_tools.constants import BlendMode

from colorizer.imaging import flatten_regions, hint_layer, overlay_lines
from colorizer.imaging.alpha import alpha_on_canvas, on_paper, output_alpha, with_alpha
from colorizer.imaging.canvas import Canvas
from colorizer.imaging.hints import PointHint
from colorizer.imaging.layers import LAYER_NAMES, build_layers, composite, encode_layers
from colorizer.imaging.postprocess import encode_image

H, W = 90, 120


def page() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gray lines (a box with a disc inside, antialiased), noisy "model" colors, flats, hints."""
    gray = np.full((H, W), 255, np.uint8)
    cv2.rectangle(gray, (10, 10), (110, 80), 0, 2, cv2.LINE_AA)
    cv2.circle(gray, (60, 45), 20, 0, 2, cv2.LINE_AA)
    rng = np.random.default_rng(0)
    colors = np.clip(rng.normal(150, 25, (H, W, 3)), 0, 255).astype(np.uint8)
    hints = hint_layer(H, W, [PointHint(60, 45, (220, 30, 30), 3), PointHint(20, 60, (30, 30, 200), 3)])
    flats = flatten_regions(colors, gray, hints, draw_lines=False)
    return gray, colors, flats, hints


def test_the_layers_are_named_ordered_and_composite_to_the_flat_result() -> None:
    gray, colors, flats, hints = page()
    layers = build_layers(colors, flats, gray, hints)
    assert [layer.name for layer in layers] == list(LAYER_NAMES)
    assert [(layer.blend, layer.visible) for layer in layers] == [
        ("normal", False), ("normal", True), ("multiply", False), ("normal", True), ("normal", False)
    ]
    assert all(layer.rgba.shape == (H, W, 4) for layer in layers)
    # The flat fill ran under the lines; the line art layer is the ink alone.
    assert (layers[1].rgba[45, 60, :3] == (220, 30, 30)).all()
    assert layers[3].rgba[10, 60, 3] == 255 and layers[3].rgba[45, 30, 3] == 0
    flat_result = flatten_regions(colors, gray, hints)  # what output.flat_fill returns
    stacked = composite(layers).astype(int)
    assert np.abs(stacked[..., :3] - flat_result).max() <= 1
    assert (stacked[..., 3] == 255).all()
    # Shown, the shading layer brings the model's (darker) colors back over the flats.
    shaded = composite([*layers[:2], layers[2].__class__("Shading", layers[2].rgba, "multiply")])
    darker = (colors <= flats).all(axis=2)
    assert np.abs(shaded[..., :3].astype(int) - colors)[darker].max() <= 2


def test_the_psd_holds_named_pixel_layers_with_modes_visibility_and_the_composite() -> None:
    gray, colors, flats, hints = page()
    layers = build_layers(colors, flats, gray, hints)
    merged = overlay_lines(flats, gray)
    psd = PSDImage.open(io.BytesIO(encode_layers(layers, merged, "psd")))
    assert psd.size == (W, H) and len(psd) == len(LAYER_NAMES)
    assert [layer.name for layer in psd] == list(LAYER_NAMES)
    assert [layer.blend_mode for layer in psd] == [
        BlendMode.NORMAL, BlendMode.NORMAL, BlendMode.MULTIPLY, BlendMode.NORMAL, BlendMode.NORMAL
    ]
    assert [layer.visible for layer in psd] == [layer.visible for layer in layers]
    assert all(layer.kind == "pixel" and not layer.has_mask() for layer in psd)
    # The line art's alpha is its own transparency channel: the ink.
    assert (np.asarray(psd[3].topil())[..., 3] == 255 - gray).all()
    flats_back = np.asarray(psd[1].topil())
    assert flats_back.shape == (H, W, 4) and (flats_back == layers[1].rgba).all()
    # The merged image (what viewers without layers show) is the flat result.
    assert (np.asarray(psd.topil())[..., :3] == merged).all()


def test_the_zip_holds_one_png_per_layer_the_composite_and_a_manifest() -> None:
    gray, colors, flats, hints = page()
    layers = build_layers(colors, flats, gray, hints)
    archive = zipfile.ZipFile(io.BytesIO(encode_layers(layers, overlay_lines(flats, gray), "zip")))
    manifest = json.loads(archive.read("layers.json"))
    assert (manifest["width"], manifest["height"]) == (W, H)
    assert [entry["name"] for entry in manifest["layers"]] == list(LAYER_NAMES)
    assert sorted(archive.namelist()) == sorted(
        ["layers.json", "composite.png", *(entry["file"] for entry in manifest["layers"])]
    )
    for entry, layer in zip(manifest["layers"], layers, strict=True):
        png = cv2.imdecode(np.frombuffer(archive.read(entry["file"]), np.uint8), cv2.IMREAD_UNCHANGED)
        assert (cv2.cvtColor(png, cv2.COLOR_BGRA2RGBA) == layer.rgba).all(), entry["name"]
        assert (entry["blend"], entry["visible"]) == (layer.blend, layer.visible)


def _transparent_figure(closed: bool) -> np.ndarray:
    """Alpha of black line art on a transparent layer: a box (with a gap when not closed)."""
    alpha = np.zeros((H, W), np.uint8)
    cv2.rectangle(alpha, (20, 20), (100, 70), 255, 2, cv2.LINE_AA)
    if not closed:
        alpha[40:50, 18:24] = 0
    return alpha


def test_output_alpha_keeps_the_background_and_fills_what_the_lines_enclose() -> None:
    alpha = output_alpha(_transparent_figure(closed=True))
    assert alpha[0, 0] == 0 and alpha[H - 1, W - 1] == 0  # background: still transparent
    assert alpha[45, 60] == 255  # inside the box: to be colored, opaque
    assert alpha[20, 60] == 255  # the line itself
    edge = _transparent_figure(True)[17:24, 60]  # antialiased outer edge keeps its alpha
    assert (output_alpha(_transparent_figure(True))[17:19, 60] == edge[:2]).all()
    leaky = output_alpha(_transparent_figure(closed=False))
    assert leaky[45, 60] == 0  # a gap lets the background in, as a flood fill would
    # A drawing painted opaque on transparency: unchanged.
    painted = np.zeros((H, W), np.uint8)
    cv2.circle(painted, (60, 45), 30, 255, -1, cv2.LINE_AA)
    assert (output_alpha(painted) == painted).all()


def test_alpha_on_the_model_canvas_pads_transparently() -> None:
    canvas = Canvas.fit(H, W, 64)
    alpha = alpha_on_canvas(np.full((H, W), 255, np.uint8), canvas)
    assert alpha.shape == (64, 64) and alpha[0, 0] == 0 and alpha[32, 32] == 255


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_rgba_output_keeps_its_alpha(fmt: str) -> None:
    rgb = np.full((H, W, 3), (200, 100, 50), np.uint8)
    alpha = output_alpha(_transparent_figure(closed=True))
    data = encode_image(with_alpha(rgb, alpha), fmt, 100 if fmt == "webp" else 0)
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert back.shape == (H, W, 4)
    assert np.abs(back[..., 3].astype(int) - alpha).max() <= 2
    with pytest.raises(ValueError, match="JPEG has no alpha"):
        encode_image(with_alpha(rgb, alpha), "jpeg")


def test_paper_puts_the_transparent_background_on_white() -> None:
    rgb = np.full((H, W, 3), (200, 100, 50), np.uint8)
    alpha = output_alpha(_transparent_figure(closed=True))
    out = on_paper(rgb, alpha)
    assert out.shape == (H, W, 3)
    assert (out[0, 0] == 255).all() and (out[45, 60] == (200, 100, 50)).all()
    assert on_paper(rgb, None) is rgb
