"""Streamline emojis (npm ``@iconify-json/streamline-emojis@1.2.4``, CC-BY-4.0): 787 cartoon emoji.

Every outline is a stroke of one dark color (#45413c, a few #4f4b45) over flat fills, so the
line art is that stroke layer: the same SVG with every dark stroke and every solid dark shape
(pupils, nostrils: drawn as dark fills, they are ink on the page) kept as ink, and every other
fill and colored stroke painted opaque white. White, not removed: the set is drawn in painter's
order, and a later shape often covers part of an earlier outline (crossed arms over a body); a
white fill hides that part of the outline in the line art exactly as the color fill hides it in
the colors. Semi-transparent shapes (highlights) hide nothing and are dropped from the lines.

The soft ground shadow under each emoji (a #45413c ellipse at opacity 0.15) is removed from the
colors too: it is not bounded by any line, so no line art could ask for it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from colorizer.datasets.base import Item, Rendered
from colorizer.datasets.fetch import npm_pack

SVG_NS = "http://www.w3.org/2000/svg"
#: Stroke and fill colors that are the outline ink of this set.
INK_COLORS = frozenset({"#45413c", "#4f4b45"})
#: What hidden parts of the line art are painted with (opaque paper).
PAPER = "#ffffff"
#: Shares of the canvas for the sanity filters.
MIN_INK = 0.005
MAX_INK = 0.25


def _wrap(body: str, width: int, height: int) -> str:
    return (
        f'<svg xmlns="{SVG_NS}" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">{body}</svg>'
    )


def _is_shadow(el: ET.Element) -> bool:
    return (
        el.get("fill", "").lower() in INK_COLORS and el.get("opacity") is not None and not el.get("stroke")
    )


def split_layers(body: str, width: int = 48, height: int = 48) -> tuple[bytes, bytes]:
    """(color SVG, line-art SVG) of one icon body, as described in the module docstring."""
    ET.register_namespace("", SVG_NS)
    color = ET.fromstring(_wrap(body, width, height))
    lines = ET.fromstring(_wrap(body, width, height))
    for tree, is_lines in ((color, False), (lines, True)):
        for parent in list(tree.iter()):
            for el in list(parent):
                if el.tag.split("}")[-1] != "path":
                    continue
                if _is_shadow(el):
                    parent.remove(el)
                    continue
                if not is_lines:
                    continue
                # <use> elements (href to a <defs> path) follow whatever their path becomes.
                stroke, fill = el.get("stroke", "").lower(), el.get("fill", "").lower()
                if el.get("opacity") is not None and stroke not in INK_COLORS:
                    el.set("fill", "none")  # a highlight: hides nothing
                    el.attrib.pop("stroke", None)
                    continue
                if fill not in INK_COLORS and fill != "none":
                    el.set("fill", PAPER)  # occludes what lies under it, as its color does
                if stroke and stroke != "none" and stroke not in INK_COLORS:
                    el.set("stroke", PAPER)
    # cairosvg resolves <use> through xlink:href; the set writes the SVG 2 plain href.
    out = []
    for tree in (color, lines):
        for el in tree.iter():
            if el.get("href") is not None:
                el.set("{http://www.w3.org/1999/xlink}href", el.attrib.pop("href"))
        out.append(ET.tostring(tree, encoding="utf-8"))
    return out[0], out[1]


class StreamlineSource:
    """The Streamline emoji set from its Iconify JSON."""

    name = "streamline"
    package = "npm @iconify-json/streamline-emojis@1.2.4"
    version = "1.2.4"
    license = "CC-BY-4.0"
    attribution = "Streamline Emojis by Streamline (https://www.streamlinehq.com), License: CC BY 4.0"
    homepage = "https://www.streamlinehq.com/emojis"

    def fetch(self, cache: Path) -> Path:
        return npm_pack("@iconify-json/streamline-emojis@1.2.4", cache)

    def items(self, root: Path) -> Iterator[Item]:
        data = json.loads((root / "icons.json").read_text())
        width, height = int(data.get("width", 48)), int(data.get("height", 48))
        for key in sorted(data["icons"]):
            icon = data["icons"][key]
            color, lines = split_layers(
                icon["body"], int(icon.get("width", width)), int(icon.get("height", height))
            )
            yield Item(
                name=key,
                color_svg=color,
                line_svg=lines,
                keys=(f"streamline-{key}",),
                how="icon body rendered as the colors (ground shadow removed); its #45413c stroke layer "
                "and dark ink shapes as the lines",
                meta={"icon": key},
            )

    def drop_reason(self, item: Item, rendered: Rendered) -> str | None:
        ink = float((rendered.lines < 96).mean())
        if ink < MIN_INK:
            return "no-lines"
        if ink > MAX_INK:
            return "solid-black"
        if not np.any(rendered.color[..., 3] > 0):
            return "empty"
        return None


SOURCE = StreamlineSource()
