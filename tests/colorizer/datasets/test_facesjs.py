"""The facesjs source against the real package under real node: determinism, paint, renderings."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest

from colorizer.datasets.base import Item, Rendered
from colorizer.datasets.facesjs import SOURCE, Face, FacesjsSource, generate_faces
from colorizer.datasets.render import ink_of, on_white, render_svg

SVG_NS = "{http://www.w3.org/2000/svg}"
SHAPES = {"path", "ellipse", "circle", "rect", "polygon", "polyline", "line"}
N_FACES = 16


@pytest.fixture(scope="session")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The facesjs install prefix, fetched once per session from npm into a private cache."""
    # node and npm are on every machine of this project (ENVIRONMENT.md): a missing one fails here.
    for exe in ("node", "npm"):
        assert shutil.which(exe) is not None, f"{exe} is not installed"
    return SOURCE.fetch(tmp_path_factory.mktemp("facesjs-cache"))


@pytest.fixture(scope="session")
def faces(prefix: Path) -> list[Face]:
    return list(generate_faces(prefix, 0, N_FACES))


def _paint(elem: ET.Element) -> dict[str, str]:
    """The element's own presentation attributes and style declarations (style wins)."""
    props = {k: v for k, v in elem.attrib.items() if k != "style"}
    for decl in elem.attrib.get("style", "").split(";"):
        if ":" in decl:
            key, value = decl.split(":", 1)
            props[key.strip()] = value.strip()
    return props


def _local(elem: ET.Element) -> str:
    return elem.tag.removeprefix(SVG_NS)


def test_same_seed_same_face_and_seeds_differ(prefix: Path, faces: list[Face]) -> None:
    again = list(generate_faces(prefix, 0, N_FACES))
    assert [f.seed for f in faces] == list(range(N_FACES))
    assert again == faces  # byte-identical SVGs from a second node process
    # A seed's face does not depend on where in the batch it is.
    assert list(generate_faces(prefix, 5, 3)) == faces[5:8]
    assert len({f.color_svg for f in faces}) == N_FACES
    assert len({f.line_svg for f in faces}) == N_FACES
    assert {f.gender for f in faces} == {"male", "female"}


def test_line_svg_is_ink_and_paper_only(faces: list[Face]) -> None:
    for face in faces:
        line = ET.fromstring(face.line_svg)
        color = ET.fromstring(face.color_svg)
        assert b"$[" not in face.line_svg
        for elem in line.iter():
            if _local(elem) in {"defs", "linearGradient", "stop"}:
                continue
            props = _paint(elem)
            assert "fill-opacity" not in props and "stroke-opacity" not in props
            if _local(elem) in SHAPES:
                # Fills are gone (none) or paper that hides covered lines; black shapes are ink.
                assert props["fill"] in {"none", "#fff", "#000"}, (face.seed, props)
                assert props["stroke"] in {"none", "#fff", "#000"}, (face.seed, props)
            else:
                assert "fill" not in props or elem is line, (face.seed, _local(elem), props)
                assert "stroke" not in props, (face.seed, _local(elem), props)
        # Same face: the same shapes in the same order with the same geometry and placement.
        geometry = [(_local(e), e.get("d"), e.get("transform")) for e in color.iter()]
        assert [(_local(e), e.get("d"), e.get("transform")) for e in line.iter()] == geometry
        # No background: nothing in the colored face is a full-canvas rectangle.
        assert not [e for e in color.iter() if _local(e) == "rect"]
        assert color.get("viewBox") == "0 0 400 600"
        # The colors keep their palette: skin and hair are real colors, not only black and white.
        fills = set(re.findall(rb'fill(?:="|:)(#[0-9a-fA-F]{3,6})', face.color_svg))
        assert fills - {b"#000", b"#fff"}


def test_renderings_line_up(faces: list[Face]) -> None:
    size = 256
    for face in faces[:6]:
        color = render_svg(face.color_svg, size)
        lines = ink_of(render_svg(face.line_svg, size))
        ink = lines < 128
        assert 0.02 < ink.mean() < 0.3, (face.seed, ink.mean())
        # The lines are the colored face's own strokes: where there is ink, the colors are dark.
        luma = cv2.cvtColor(on_white(color), cv2.COLOR_RGB2GRAY)
        assert float(np.mean(luma[ink] < 100)) > 0.75, face.seed
        # Transparent paper: the square's corners (padding) and the drawing's own top corners.
        left, end = (size - round(size * 400 / 600)) // 2, size - 1
        for y, x in ((0, 0), (0, end), (end, 0), (end, end), (2, left + 2), (2, end - left - 2)):
            assert color[y, x, 3] == 0, (face.seed, y, x)
        assert np.all(lines[:, :left] == 255)


def test_items_and_drop_reason(prefix: Path) -> None:
    source = FacesjsSource(count=3)
    items = list(source.items(prefix))
    assert [i.name for i in items] == ["face-00000", "face-00001", "face-00002"]
    assert [i.keys for i in items] == [("facesjs-0",), ("facesjs-1",), ("facesjs-2",)]
    assert [i.meta["seed"] for i in items] == ["0", "1", "2"]
    assert all(isinstance(i, Item) and i.line_svg and i.how for i in items)
    item = items[0]
    color = render_svg(item.color_svg, 128)
    assert item.line_svg is not None
    lines = ink_of(render_svg(item.line_svg, 128))
    assert source.drop_reason(item, Rendered(color=color, lines=lines)) is None
    blank = np.full_like(lines, 255)
    assert source.drop_reason(item, Rendered(color=color, lines=blank)) == "no-ink"
    assert source.drop_reason(item, Rendered(color=np.zeros_like(color), lines=lines)) == "no-color"


def test_source_facts() -> None:
    assert (SOURCE.name, SOURCE.package, SOURCE.version) == ("facesjs", "npm facesjs@5.0.3", "5.0.3")
    assert SOURCE.license == "Apache-2.0"
    assert "facesjs" in SOURCE.attribution and "Apache-2.0" in SOURCE.attribution
    assert SOURCE.count == 1000
    with pytest.raises(ValueError):
        FacesjsSource(count=-1)


def test_a_relative_install_prefix_works(prefix: Path) -> None:
    """`colorizer data` passes data/cache/... relative to the working directory."""
    import os

    (face,) = generate_faces(Path(os.path.relpath(prefix)), 3, 1)
    assert face.seed == 3 and face.color_svg.startswith(b"<svg")
