"""Output side: line overlay, encoding, and the preview pictures used by the demo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from colorizer.imaging import PointHint, StrokeHint, encode_image, overlay_lines
from colorizer.imaging.postprocess import decode_rgb
from colorizer.imaging.preview import contact_sheet, draw_hints


def test_overlay_multiplies_lines_over_color() -> None:
    rgb = np.full((2, 2, 3), (200, 100, 50), np.uint8)
    gray = np.array([[255, 0], [128, 255]], np.uint8)
    out = overlay_lines(rgb, gray)
    assert tuple(out[0, 0]) == (200, 100, 50) and tuple(out[0, 1]) == (0, 0, 0)
    assert tuple(out[1, 0]) == (100, 50, 25)
    with pytest.raises(ValueError, match="overlay needs"):
        overlay_lines(rgb, gray[:1])


@pytest.mark.parametrize(("fmt", "magic"), [("png", b"\x89PNG"), ("jpeg", b"\xff\xd8"), ("webp", b"RIFF")])
def test_encode_keeps_rgb_order(fmt: str, magic: bytes) -> None:
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    data = encode_image(rgb, fmt, quality=95 if fmt != "png" else 0)
    assert data.startswith(magic)
    back = decode_rgb(data)
    assert back[8, 8, 0] > 240 and back[8, 8, 2] < 15


def test_encode_rejects_unknown_options() -> None:
    with pytest.raises(ValueError, match="unknown output format"):
        encode_image(np.zeros((2, 2, 3), np.uint8), "gif")
    with pytest.raises(ValueError, match="quality"):
        encode_image(np.zeros((2, 2, 3), np.uint8), "jpeg", 101)


def test_draw_hints_paints_points_and_strokes() -> None:
    sketch = np.full((100, 120), 255, np.uint8)
    out = draw_hints(
        sketch, [PointHint(20, 30, (255, 0, 0))], [StrokeHint(((60, 80), (110, 80)), 6, (0, 0, 255))]
    )
    assert out.shape == (100, 120, 3)
    assert tuple(out[30, 20]) == (255, 0, 0) and tuple(out[80, 85]) == (0, 0, 255)
    assert tuple(out[5, 5]) == (255, 255, 255)


def test_contact_sheet_lays_out_rows_and_columns() -> None:
    red = np.zeros((50, 100, 3), np.uint8)
    red[..., 0] = 255
    sheet = contact_sheet(
        [("a", [red, red]), ("b", [red, np.zeros((30, 30), np.uint8)])], ["x", "y"], tile=64
    )
    assert sheet.shape[1] == 8 + 2 * (64 + 8)
    assert sheet.shape[0] > 2 * 64
    # First row, first tile: header (24) + row label (24), then the 32-high image centered in 64.
    assert tuple(sheet[24 + 24 + 32, 8 + 32]) == (255, 0, 0)
    ok, _ = cv2.imencode(".png", sheet)
    assert ok
