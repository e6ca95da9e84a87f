"""Layered output: the colored page as named layers, in a PSD or as PNGs in a zip.

A colorist keeps working on the result, so the parts stay apart (bottom to top):

========== ========= ======= =====================================================================
layer      blend     shown   what it holds
========== ========= ======= =====================================================================
Colors     normal    hidden  the model's colors at the sketch's size
Flats      normal    shown   the flat fill: one color per line-bounded region, running under lines
Shading    multiply  hidden  the model's colors relative to the flats (colors / flats, <= 1)
Line art   normal    shown   the lines as black with alpha = ink (255 - gray): lines-with-alpha
Hints      normal    hidden  the hints as the user gave them (image, strokes, points)
========== ========= ======= =====================================================================

The visible layers composite to the flat-fill output (flats x lines, as the multiply of
``flatten_regions`` draws them): the line art is black with alpha, which composites exactly as a
multiply of the gray lines and means the same in every program (blend modes do not: GIMP clips a
multiply layer to its backdrop's alpha where Photoshop does not). With a transparent background
every layer carries the output's alpha. The PSD is written with psd-tools (pixel layers, names,
blend modes, visibility); its merged image, which viewers without layer support show, is that
same composite. The zip holds one PNG per layer plus ``layers.json`` (order, names, blend modes,
visibility) and ``composite.png``, for tools without PSD support.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from colorizer.imaging.alpha import with_alpha
from colorizer.imaging.postprocess import encode_image

U8 = npt.NDArray[np.uint8]
Blend = Literal["normal", "multiply"]
LayersFormat = Literal["psd", "zip"]

#: Formats :func:`encode_layers` writes.
LAYERS_FORMATS: tuple[LayersFormat, ...] = ("psd", "zip")
#: The layers' names, bottom to top.
LAYER_NAMES = ("Colors", "Flats", "Shading", "Line art", "Hints")


@dataclass(frozen=True)
class Layer:
    """One full-canvas RGBA layer."""

    name: str
    rgba: U8
    blend: Blend = "normal"
    visible: bool = True


def build_layers(colors: U8, flats: U8, gray: U8, hints: U8, alpha: U8 | None = None) -> list[Layer]:
    """The layers of the table above, bottom to top, all [H, W, 4].

    ``colors`` the model's colors and ``flats`` the fills without lines (RGB [H, W, 3]), ``gray``
    the line art [H, W] (0 ink, 255 paper), ``hints`` RGBA [H, W, 4] (:func:`hint_layer`),
    ``alpha`` the output's alpha [H, W] (None: opaque).
    """
    h, w = gray.shape
    for name, array in (("colors", colors), ("flats", flats), ("hints", hints)):
        if array.shape[:2] != (h, w):
            raise ValueError(f"{name} is {array.shape[:2]}, the line art {(h, w)}: they must match")
    opaque = np.full((h, w), 255, np.uint8) if alpha is None else alpha
    # Multiply by colors / flats reproduces the model's colors over the flats where they are
    # darker (its shading); brighter than the flats cannot be multiplied, so it stays 255.
    shading = cv2.divide(colors, np.maximum(flats, 1), scale=255.0)
    ink = np.asarray(cv2.bitwise_not(gray), dtype=np.uint8)
    lines = with_alpha(np.zeros((h, w, 3), np.uint8), ink)  # black, alpha = ink
    return [
        Layer("Colors", with_alpha(colors, opaque), visible=False),
        Layer("Flats", with_alpha(flats, opaque)),
        Layer("Shading", with_alpha(np.asarray(shading, np.uint8), opaque), "multiply", visible=False),
        Layer("Line art", lines),
        Layer("Hints", np.ascontiguousarray(hints), visible=False),
    ]


def composite(layers: list[Layer]) -> U8:
    """The visible layers composited, bottom to top (normal: "over"; multiply: the separable
    multiply over the backdrop, Photoshop's way) -> RGBA [H, W, 4]."""
    h, w = layers[0].rgba.shape[:2]
    color: npt.NDArray[np.float32] = np.zeros((h, w, 3), np.float32)
    acc: npt.NDArray[np.float32] = np.zeros((h, w, 1), np.float32)
    for layer in layers:
        if not layer.visible:
            continue
        src = layer.rgba[..., :3].astype(np.float32) / 255.0
        a = layer.rgba[..., 3:].astype(np.float32) / 255.0
        if layer.blend == "multiply":  # where there is a backdrop, the source is backdrop x source
            src = (1.0 - acc) * src + acc * (color * src)
        out_a = acc + a * (1.0 - acc)
        color = ((color * acc * (1.0 - a) + src * a) / np.maximum(out_a, 1e-6)).astype(np.float32)
        acc = out_a.astype(np.float32)
    out = np.concatenate([color, acc], axis=2) * 255.0 + 0.5
    return np.clip(out, 0, 255).astype(np.uint8)


def write_psd(layers: list[Layer], merged: U8) -> bytes:
    """A PSD (8-bit RGB, RLE) with ``layers`` as named pixel layers and ``merged`` as its preview.

    ``merged`` is the composite, RGB or RGBA [H, W, 3|4] (stored RGBA): given, not recomputed, because
    psd-tools' own compositing on save costs ~1 s per 2048 px layer in numpy.
    """
    from PIL import Image
    from psd_tools import PSDImage
    from psd_tools.api.layers import PixelLayer
    from psd_tools.constants import BlendMode, Compression

    modes = {"normal": BlendMode.NORMAL, "multiply": BlendMode.MULTIPLY}
    if merged.shape[2] == 3:
        merged = with_alpha(merged, np.full(merged.shape[:2], 255, np.uint8))
    # An RGBA document: psd-tools then stores each layer's alpha as its transparency channel; in
    # an RGB one it would store it as a user layer mask (an opaque layer, masked).
    psd = PSDImage.frompil(Image.fromarray(merged, "RGBA"), compression=Compression.RLE)
    for layer in layers:
        pixel = PixelLayer.frompil(
            Image.fromarray(layer.rgba, "RGBA"), psd, layer.name, compression=Compression.RLE
        )
        pixel.blend_mode = modes[layer.blend]
        pixel.visible = layer.visible
        psd.append(pixel)
    # A negative layer count says the merged image's extra channel is its transparency
    # (Photoshop's convention), not a saved selection.
    info = psd._record.layer_and_mask_information.layer_info
    if info is not None:
        info.layer_count = -abs(info.layer_count)
    out = io.BytesIO()
    # The document's record, written as is: PSDImage.save() would first re-render the preview
    # from the layers (see above); the preview set by frompil() is already that composite.
    psd._record.write(out)
    return out.getvalue()


def write_zip(layers: list[Layer], merged: U8) -> bytes:
    """A zip of one PNG per layer (``01-colors.png``, bottom first), ``composite.png``, ``layers.json``."""
    out = io.BytesIO()
    manifest = []
    # PNGs are compressed already: stored, not deflated again.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for index, layer in enumerate(layers, 1):
            file = f"{index:02d}-{layer.name.lower().replace(' ', '-')}.png"
            archive.writestr(file, encode_image(layer.rgba, "png"))
            manifest.append(
                {"file": file, "name": layer.name, "blend": layer.blend, "visible": layer.visible}
            )
        archive.writestr("composite.png", encode_image(merged, "png"))
        h, w = merged.shape[:2]
        document = {"width": w, "height": h, "order": "bottom to top", "layers": manifest}
        archive.writestr("layers.json", json.dumps(document, indent=2) + "\n")
    return out.getvalue()


def encode_layers(layers: list[Layer], merged: U8, fmt: LayersFormat) -> bytes:
    """``layers`` (and their composite ``merged``) as a PSD or a zip of PNGs."""
    if fmt == "psd":
        return write_psd(layers, merged)
    if fmt == "zip":
        return write_zip(layers, merged)
    raise ValueError(f"unknown layers format {fmt!r}; choose one of {LAYERS_FORMATS}")
