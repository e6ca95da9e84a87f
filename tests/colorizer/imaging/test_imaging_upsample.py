"""Line-guided upsampling: color edges land on the full-size lines, shading away from lines is kept."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from colorizer.imaging import upsample
from colorizer.imaging.upsample import guided_upsample

RED = (220, 40, 40)
BLUE = (40, 60, 220)


def _two_regions(size: int = 1024, line: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """A full-size sketch split by a wavy vertical line, and 128 px colors that smear across it."""
    gray = np.full((size, size), 255, np.uint8)
    ys = np.arange(size)
    xs = (size // 2 + 40 * np.sin(ys / 90.0)).astype(np.int32)
    pts = np.stack([xs, ys], axis=1).reshape(-1, 1, 2)
    cv2.polylines(gray, [pts], False, 0, line, cv2.LINE_AA)
    # The model's canvas (1/8): red spills half a canvas pixel over the line, then a blur (its
    # haze): together less than the band of BAND_CANVAS_PX canvas pixels.
    model = np.zeros((size, size, 3), np.uint8)
    spilled = np.arange(size)[None, :] < xs[:, None] + size // 256
    model[spilled] = RED
    model[~spilled] = BLUE
    small = cv2.resize(model, (128, 128), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (3, 3), 0.8)
    return gray, small


def _off_color(out: np.ndarray, gray: np.ndarray, tolerance: int = 12) -> float:
    """Share of paper pixels more than ``tolerance`` levels (any channel) off their side's color."""
    size = gray.shape[0]
    ys = np.arange(size)
    xs = (size // 2 + 40 * np.sin(ys / 90.0)).astype(np.int32)
    left = np.arange(size)[None, :] < xs[:, None]
    want = np.where(left[..., None], np.array(RED), np.array(BLUE))
    paper = gray >= 250
    off = np.abs(out.astype(int) - want).max(axis=2) > tolerance
    return float((off & paper).sum() / paper.sum())


def test_color_edge_sits_on_the_line() -> None:
    gray, small = _two_regions()
    resized = cv2.resize(small, gray.shape[::-1], interpolation=cv2.INTER_LINEAR)
    guided = guided_upsample(small, gray)
    assert guided.shape == (*gray.shape, 3) and guided.dtype == np.uint8
    # The plain resize blends the two colors on a band of paper beside the line (and the spill)...
    assert _off_color(resized, gray) > 0.01
    # ...the guided one nowhere: every paper pixel has its own side's color.
    assert _off_color(guided, gray) == 0.0


def test_shading_away_from_lines_is_kept() -> None:
    # No lines at all inside a gradient: the guided result is the plain resize there.
    gray = np.full((512, 512), 255, np.uint8)
    cv2.rectangle(gray, (10, 10), (501, 501), 0, 3)
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.float32), (64, 1))
    small = np.dstack([ramp, ramp, 255 - ramp]).astype(np.uint8)
    resized = cv2.resize(small, (512, 512), interpolation=cv2.INTER_LINEAR)
    guided = guided_upsample(small, gray)
    inner = (slice(60, 450), slice(60, 450))
    assert np.array_equal(guided[inner], resized[inner])


def test_thin_region_takes_its_own_mean() -> None:
    # A stripe thinner than two bands between two lines has no reliable core: it gets its mean
    # color, not the color of the big regions across its lines.
    gray = np.full((800, 800), 255, np.uint8)
    gray[:, 396:400] = 0
    gray[:, 420:424] = 0  # stripe 400..420: 20 px wide; the band at scale 8 is 16 px
    truth = np.zeros((800, 800, 3), np.uint8)
    truth[:, :398] = RED
    truth[:, 398:422] = (40, 200, 40)
    truth[:, 422:] = BLUE
    small = cv2.resize(truth, (100, 100), interpolation=cv2.INTER_AREA)
    out = guided_upsample(small, gray)
    stripe = out[:, 402:418].reshape(-1, 3).astype(int)
    assert np.ptp(stripe, axis=0).max() == 0  # one color
    assert np.argmax(stripe[0]) == 1  # and green is its strongest channel, as the model had it


def test_blocks_above_the_search_size_give_the_same_sides(monkeypatch: pytest.MonkeyPatch) -> None:
    gray, small = _two_regions(size=512)
    monkeypatch.setattr(upsample, "SEARCH_PIXELS", 512 * 512 // 9)  # blocks of 3 x 3
    assert _off_color(guided_upsample(small, gray), gray) == 0.0


def test_no_lines_is_a_plain_resize() -> None:
    small = np.random.default_rng(0).integers(0, 255, (32, 48, 3), dtype=np.uint8)
    gray = np.full((64, 96), 255, np.uint8)
    assert np.array_equal(
        guided_upsample(small, gray), cv2.resize(small, (96, 64), interpolation=cv2.INTER_LINEAR)
    )


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="guided_upsample"):
        guided_upsample(np.zeros((8, 8), np.uint8), np.zeros((16, 16), np.uint8))
