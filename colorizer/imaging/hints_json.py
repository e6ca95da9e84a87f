"""A tiny JSON format for hints (sidecar files, ``--hints-file``) and the ``--hint`` flag syntax.

.. code-block:: json

    {"points":  [{"x": 120, "y": 80, "color": "#ff8800", "radius": 6}],
     "strokes": [{"points": [[10, 10], [60, 40]], "width": 8, "color": "#3366cc"}]}

Coordinates and sizes are in original-sketch pixels; ``radius`` is optional (0 = one hint cell).
Both keys are optional. Range checks against the sketch happen later, in
:func:`colorizer.imaging.build_hint_map`; this module checks types and syntax.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorizer.imaging.errors import ImageInputError
from colorizer.imaging.hints import RGB, PointHint, StrokeHint

_COLOR = re.compile(r"#([0-9a-fA-F]{6})")


@dataclass(frozen=True)
class HintSet:
    """Point and stroke hints read from JSON or flags."""

    points: tuple[PointHint, ...] = field(default_factory=tuple)
    strokes: tuple[StrokeHint, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.points) + len(self.strokes)


def parse_color(text: object, where: str = "color") -> RGB:
    """``"#RRGGBB"`` -> (r, g, b)."""
    match = _COLOR.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ImageInputError(f'{where}: {text!r} is not a color; write it as "#RRGGBB"')
    h = match.group(1)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def format_color(rgb: RGB) -> str:
    """(r, g, b) -> ``"#rrggbb"``."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def parse_hint_spec(spec: str) -> PointHint:
    """The ``--hint`` flag: ``"X,Y,#RRGGBB"`` or ``"X,Y,#RRGGBB,RADIUS"`` -> :class:`PointHint`."""
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) not in (3, 4):
        raise ImageInputError(f"--hint {spec!r}: expected X,Y,#RRGGBB or X,Y,#RRGGBB,RADIUS")
    x = _number(parts[0], f"--hint {spec!r}: x")
    y = _number(parts[1], f"--hint {spec!r}: y")
    rgb = parse_color(parts[2], f"--hint {spec!r}")
    radius = _number(parts[3], f"--hint {spec!r}: radius") if len(parts) == 4 else 0.0
    return PointHint(x=x, y=y, rgb=rgb, radius=radius)


def parse_hints(doc: object, source: str = "hints") -> HintSet:
    """A decoded JSON document -> :class:`HintSet`; errors name ``source`` and the field."""
    if not isinstance(doc, dict):
        raise ImageInputError(f'{source}: expected a JSON object with "points" and/or "strokes"')
    unknown = sorted(set(doc) - {"points", "strokes"})
    if unknown:
        raise ImageInputError(f'{source}: unknown key(s) {unknown}; expected "points" and/or "strokes"')
    raw_points = _list(doc.get("points", []), f"{source}: points")
    points = tuple(_point(p, f"{source}: points[{i}]") for i, p in enumerate(raw_points))
    raw_strokes = _list(doc.get("strokes", []), f"{source}: strokes")
    strokes = tuple(_stroke(s, f"{source}: strokes[{i}]") for i, s in enumerate(raw_strokes))
    return HintSet(points, strokes)


def loads_hints(text: str | bytes, source: str = "hints") -> HintSet:
    """JSON text -> :class:`HintSet`."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImageInputError(f"{source}: not valid JSON ({exc})") from None
    return parse_hints(doc, source)


def load_hints_file(path: str | Path) -> HintSet:
    """Read a hints JSON file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ImageInputError(f"hints file {str(path)!r}: cannot read it ({exc.strerror})") from None
    return loads_hints(text, f"hints file {str(path)!r}")


def hints_to_json(hints: HintSet) -> dict[str, Any]:
    """:class:`HintSet` -> a JSON-ready dict in this module's format (inverse of :func:`parse_hints`)."""
    doc: dict[str, Any] = {}
    if hints.points:
        doc["points"] = [
            {"x": p.x, "y": p.y, "color": format_color(p.rgb), **({"radius": p.radius} if p.radius else {})}
            for p in hints.points
        ]
    if hints.strokes:
        doc["strokes"] = [
            {"points": [list(xy) for xy in s.points], "width": s.width, "color": format_color(s.rgb)}
            for s in hints.strokes
        ]
    return doc


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ImageInputError(f"{where}: expected a list")
    return value


def _fields(obj: object, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ImageInputError(f"{where}: expected an object")
    missing = sorted(required - set(obj))
    if missing:
        raise ImageInputError(f"{where}: missing {', '.join(repr(m) for m in missing)}")
    unknown = sorted(set(obj) - required - optional)
    if unknown:
        raise ImageInputError(f"{where}: unknown key(s) {unknown}")
    return obj


def _number(value: object, where: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ImageInputError(f"{where}: {value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ImageInputError(f"{where}: {value!r} is not a finite number")
    return float(value)


def _point(obj: object, where: str) -> PointHint:
    d = _fields(obj, where, {"x", "y", "color"}, {"radius"})
    return PointHint(
        x=_json_number(d["x"], f"{where}.x"),
        y=_json_number(d["y"], f"{where}.y"),
        rgb=parse_color(d["color"], f"{where}.color"),
        radius=_json_number(d.get("radius", 0), f"{where}.radius"),
    )


def _stroke(obj: object, where: str) -> StrokeHint:
    d = _fields(obj, where, {"points", "width", "color"}, set())
    pts = []
    for j, xy in enumerate(_list(d["points"], f"{where}.points")):
        if not isinstance(xy, list) or len(xy) != 2:
            raise ImageInputError(f"{where}.points[{j}]: expected [x, y]")
        x = _json_number(xy[0], f"{where}.points[{j}].x")
        pts.append((x, _json_number(xy[1], f"{where}.points[{j}].y")))
    return StrokeHint(
        points=tuple(pts),
        width=_json_number(d["width"], f"{where}.width"),
        rgb=parse_color(d["color"], f"{where}.color"),
    )


def _json_number(value: object, where: str) -> float:
    # JSON numbers only: "12" (a string) is a mistake worth reporting in a file.
    if isinstance(value, str):
        raise ImageInputError(f"{where}: {value!r} is a string, expected a number")
    return _number(value, where)
