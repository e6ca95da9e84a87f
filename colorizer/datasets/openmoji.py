"""OpenMoji (npm ``openmoji@17.0.0``, CC-BY-SA-4.0): emoji drawn by people, with their own line art.

``color/svg/NAME.svg`` and ``black/svg/NAME.svg`` share file names; the black file is the line
art of the color file (its ``line`` group is byte-identical and drawn last), so the pair needs no
line extraction. Skin-tone variants reuse one drawing: the drawing keys are the hash of the black
file and the file name without its skin-tone modifiers, joined by :mod:`.split`.

Pairs dropped (``drop_reason``), measured on the rendered pixels:

* ``line-supplement-white``: fewer than 99% of the line art's ink pixels are dark in the color
  version (symbols whose color version paints a "line-supplement" group white over the lines);
* ``solid-black``: more than 25% of the canvas is ink (silhouettes, black flags, the
  black-square symbols): no regions to color;
* ``near-gray``: fewer than 2% of the canvas carries color (chroma): gray symbols teach nothing
  about hints.

Shares are of the whole square canvas (every OpenMoji file has the same 72x72 frame), which puts
the ink cut at the 99th percentile of all files and the color cut at about the 88th.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from colorizer.datasets.base import Item, Rendered
from colorizer.datasets.fetch import npm_pack
from colorizer.datasets.render import on_white

#: Skin-tone modifiers U+1F3FB..U+1F3FF in OpenMoji file names.
_SKIN = re.compile(r"-1F3F[B-F]")
#: A line-art pixel this dark (0..255) is ink for the filters; its color pixel must be this dark too.
INK = 96
COLOR_DARK = 128
#: Shares of the filters above.
MIN_LINE_KEPT = 0.99
MAX_INK = 0.25
MIN_COLORED = 0.02
#: Max-min of RGB above this is a colored pixel.
CHROMA = 40


class OpenMojiSource:
    """The OpenMoji color/black SVG pairs."""

    name = "openmoji"
    package = "npm openmoji@17.0.0"
    version = "17.0.0"
    license = "CC-BY-SA-4.0"
    attribution = (
        "OpenMoji, the open-source emoji and icon project (https://openmoji.org), License: CC BY-SA 4.0"
    )
    homepage = "https://openmoji.org"

    def fetch(self, cache: Path) -> Path:
        return npm_pack("openmoji@17.0.0", cache)

    def items(self, root: Path) -> Iterator[Item]:
        for color in sorted((root / "color" / "svg").glob("*.svg")):
            black = root / "black" / "svg" / color.name
            if not black.is_file():
                continue
            line_svg = black.read_bytes()
            keys = (
                "openmoji-line-" + hashlib.sha1(line_svg).hexdigest()[:16],
                "openmoji-" + _SKIN.sub("", color.stem),
            )
            yield Item(
                name=color.stem,
                color_svg=color.read_bytes(),
                line_svg=line_svg,
                keys=keys,
                how="color/svg rendered as the colors; black/svg (the same drawing's line art) as the lines",
                meta={"file": f"color/svg/{color.name}"},
            )

    def drop_reason(self, item: Item, rendered: Rendered) -> str | None:
        return openmoji_drop_reason(rendered)


def openmoji_drop_reason(rendered: Rendered) -> str | None:
    """The filters of the module docstring on one rendered pair."""
    ink = rendered.lines < INK
    n_ink = int(ink.sum())
    if n_ink == 0:
        return "no-lines"
    rgb = on_white(rendered.color)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if float((gray[ink] < COLOR_DARK).mean()) < MIN_LINE_KEPT:
        return "line-supplement-white"
    if n_ink / ink.size > MAX_INK:
        return "solid-black"
    opaque = rendered.color[..., 3] > 127
    chroma = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2)
    if float(((chroma > CHROMA) & opaque).mean()) < MIN_COLORED:
        return "near-gray"
    return None


SOURCE = OpenMojiSource()
