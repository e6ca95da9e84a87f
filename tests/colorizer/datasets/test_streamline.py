"""Streamline emojis: the line art is the set's own dark stroke layer."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from colorizer.datasets.fetch import npm_pack
from colorizer.datasets.prepare import render_item
from colorizer.datasets.render import on_white
from colorizer.datasets.streamline import INK_COLORS, StreamlineSource, split_layers


def _paths(svg: bytes) -> list[ET.Element]:
    return [el for el in ET.fromstring(svg).iter() if el.tag.endswith("path")]


def test_line_layer_keeps_only_dark_strokes_ink_shapes_and_white_occluders(fixture_root: Path) -> None:
    items = list(StreamlineSource().items(fixture_root / "streamline"))
    assert [i.name for i in items] == sorted(i.name for i in items) and len(items) == 4
    for item in items:
        assert item.line_svg is not None
        for el in _paths(item.line_svg):
            stroke, fill = el.get("stroke", "").lower(), el.get("fill", "").lower()
            # Every color is gone: a path draws ink, white paper (an occluder) or nothing.
            assert stroke in (*INK_COLORS, "#ffffff", "none", ""), ET.tostring(el)[:120]
            assert fill in (*INK_COLORS, "#ffffff", "none"), ET.tostring(el)[:120]
        # The ground shadow is gone from the colors too.
        assert not any(
            el.get("opacity") and el.get("fill", "").lower() in INK_COLORS for el in _paths(item.color_svg)
        )


def test_rendered_lines_lie_on_the_colored_drawings_outlines(fixture_root: Path) -> None:
    source = StreamlineSource()
    for item in source.items(fixture_root / "streamline"):
        r = render_item(item, 128)
        assert source.drop_reason(item, r) is None
        ink = r.lines < 96
        assert 0.01 < ink.mean() < 0.25
        # The line art's core ink is dark in the colored drawing (outlines hidden under later
        # shapes are hidden in the line art too).
        core = r.lines < 32
        assert (on_white(r.color).mean(axis=2)[core] < 140).mean() > 0.97
        assert r.color[0, 0, 3] == 0


def test_use_references_survive_the_split() -> None:
    body = (
        '<defs><path id="p" fill="#f0f0f0" d="M1 1h10v10H1z"/></defs><use href="#p"/>'
        '<path fill="none" stroke="#45413c" d="M1 1h10v10H1z"/>'
    )
    color, lines = split_layers(body, 12, 12)
    assert b"xlink:href" in color or b'href="#p"' in color
    from colorizer.datasets.render import render_svg

    c = render_svg(color, 24)
    assert c[12, 12, 3] == 255 and tuple(c[12, 12, :3]) == (0xF0, 0xF0, 0xF0)  # the <use> fill is drawn
    ln = render_svg(lines, 24)
    assert tuple(ln[12, 12]) == (255, 255, 255, 255)  # ... and paper in the line art


def test_real_package_has_the_expected_icons(tmp_path: Path) -> None:
    """npm pack of the real package (380 kB): 787 icons, every one splits into two layers."""
    root = npm_pack("@iconify-json/streamline-emojis@1.2.4", tmp_path)
    items = list(StreamlineSource().items(root))
    assert len(items) == 787 and len({i.name for i in items}) == 787
