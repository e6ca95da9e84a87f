"""The hints JSON format and the --hint flag syntax."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from colorizer.imaging import ImageInputError, PointHint, StrokeHint
from colorizer.imaging.hints_json import (
    HintSet,
    hints_to_json,
    load_hints_file,
    loads_hints,
    parse_color,
    parse_hint_spec,
)


def test_a_full_document_parses_and_round_trips(tmp_path: Path) -> None:
    doc = {
        "points": [
            {"x": 12, "y": 3.5, "color": "#FF8800", "radius": 6},
            {"x": 0, "y": 0, "color": "#000000"},
        ],
        "strokes": [{"points": [[1, 2], [3, 4]], "width": 8, "color": "#3366cc"}],
    }
    path = tmp_path / "a.hints.json"
    path.write_text(json.dumps(doc))
    hints = load_hints_file(path)
    assert hints.points == (PointHint(12.0, 3.5, (255, 136, 0), 6.0), PointHint(0.0, 0.0, (0, 0, 0), 0.0))
    assert hints.strokes == (StrokeHint(((1.0, 2.0), (3.0, 4.0)), 8.0, (51, 102, 204)),)
    assert len(hints) == 3
    assert loads_hints(json.dumps(hints_to_json(hints))) == hints


def test_empty_object_means_no_hints() -> None:
    assert loads_hints("{}") == HintSet()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "expected a JSON object"),
        ("{not json", "not valid JSON"),
        ('{"point": []}', r"unknown key\(s\) \['point'\]"),
        ('{"points": {}}', "points: expected a list"),
        ('{"points": [{"x": 1, "color": "#ffffff"}]}', r"points\[0\]: missing 'y'"),
        ('{"points": [{"x": "1", "y": 1, "color": "#ffffff"}]}', r"points\[0\]\.x: '1' is a string"),
        ('{"points": [{"x": 1, "y": 1, "color": "red"}]}', r"points\[0\]\.color: 'red' is not a color"),
        (
            '{"points": [{"x": 1, "y": 1, "color": "#fff"}]}',
            r"'#fff' is not a color; write it as \"#RRGGBB\"",
        ),
        (
            '{"strokes": [{"points": [[1]], "width": 2, "color": "#ffffff"}]}',
            r"strokes\[0\]\.points\[0\]: expected",
        ),
        ('{"strokes": [{"points": [], "width": true, "color": "#ffffff"}]}', r"strokes\[0\]\.width: True"),
    ],
)
def test_bad_documents_name_the_field(text: str, message: str) -> None:
    with pytest.raises(ImageInputError, match=message):
        loads_hints(text, "hints file 'x.json'")


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ImageInputError, match="cannot read it"):
        load_hints_file(tmp_path / "nope.json")


def test_hint_flag_syntax() -> None:
    assert parse_hint_spec("10,20,#00ff00") == PointHint(10.0, 20.0, (0, 255, 0), 0.0)
    assert parse_hint_spec("10.5, 20 ,#00FF00,4") == PointHint(10.5, 20.0, (0, 255, 0), 4.0)
    assert parse_color("#0a0B0c") == (10, 11, 12)
    with pytest.raises(ImageInputError, match="expected X,Y,#RRGGBB"):
        parse_hint_spec("10,20")
    with pytest.raises(ImageInputError, match="x: 'ten' is not a number"):
        parse_hint_spec("ten,20,#000000")
