"""Flat fill, tighter: gaps closed by joining line ends, no halo under antialiased lines, thin
regions kept, paper kept around the figure, and strokes that cost their box, not points x width."""

from __future__ import annotations

import cv2
import numpy as np

from colorizer.imaging import PointHint, StrokeHint, flatten_regions, hint_layer
from colorizer.imaging.flatten import PaintedPixels, line_regions
from colorizer.imaging.gaps import MAX_THINNING, THINNING_DONE, closed_regions, thin

RED, BLUE, GREEN, WHITE = (220, 30, 30), (30, 30, 220), (30, 200, 30), (255, 255, 255)


def _blotchy(h: int, w: int, rgb: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """A model output of one color with noise: what flat fill has to flatten."""
    rng = np.random.default_rng(seed)
    out = np.clip(np.array(rgb) + rng.integers(-12, 13, (h, w, 3)), 0, 255)
    return out.astype(np.uint8)


def _broken_ring(size: int, radius: int, gap_deg: float, thickness: int = 2) -> np.ndarray:
    """An antialiased circle drawn by hand, with an opening of ``gap_deg`` degrees at the top."""
    g = np.full((size, size), 255, np.uint8)
    half = gap_deg / 2
    c = size // 2
    cv2.ellipse(g, (c, c), (radius, radius), -90, half, 360 - half, 0, thickness, cv2.LINE_AA)
    return g


def test_a_drawn_shape_with_a_gap_is_closed_and_the_outside_stays_paper() -> None:
    g = _broken_ring(200, 60, 8)  # 8 degrees of 60 px: an opening of about 7 px
    xs = np.nonzero(g[:50] < 200)[1]
    assert (xs.max() - xs.min()) > 60 and not ((g[35:45, 98:102] < 200).any())  # the gap is there
    hints = hint_layer(200, 200, [PointHint(100, 100, RED, radius=3)])
    rgb = _blotchy(200, 200, BLUE)
    out = flatten_regions(rgb, g, hints)
    inside = np.hypot(*np.mgrid[-100:100, -100:100]) < 55
    outside = np.hypot(*np.mgrid[-100:100, -100:100]) > 66
    assert (out[inside] == RED).all()  # one color, the hint's
    assert (out[outside] == WHITE).all()  # the unhinted outside touches the border: paper
    # Without gap closing, the same hint floods out through the opening.
    leaked = flatten_regions(rgb, g, hints, gap=0)
    assert (leaked[outside] == RED).all(axis=1).mean() > 0.9


def test_a_gap_wider_than_the_setting_stays_open() -> None:
    g = _broken_ring(200, 60, 30)  # about 31 px open: beyond the 7.5 px joined at this size
    out = flatten_regions(_blotchy(200, 200, BLUE), g, hint_layer(200, 200, [PointHint(100, 100, RED)]))
    assert tuple(out[5, 5]) == RED  # inside and outside are one region, and it was hinted


def _c_shape(g: np.ndarray, center: tuple[int, int], radius: int, gap_px: int) -> None:
    half = np.degrees(gap_px / radius) / 2
    cv2.ellipse(g, center, (radius, radius), 0, half, 360 - half, 0, 1, cv2.LINE_8)


def test_a_closure_that_would_cut_off_a_tiny_region_is_dropped() -> None:
    g = np.full((120, 200), 255, np.uint8)
    _c_shape(g, (30, 60), 5, 4)  # encloses ~80 px once closed
    _c_shape(g, (130, 60), 40, 4)  # encloses ~5000 px once closed
    lines = (g < 200).astype(np.uint8)
    regions = closed_regions(lines, max_gap=8, min_cut=200)
    region = regions.region[regions.labels]
    assert region[60, 130] != region[5, 5]  # the big C is closed ...
    assert region[60, 30] == region[5, 5]  # ... the small one is not: it stays part of the outside
    assert len(regions.closures) == 1
    # With a smaller floor both close.
    both = closed_regions(lines, max_gap=8, min_cut=20)
    assert both.region[both.labels][60, 30] != both.region[both.labels][5, 5]
    assert len(both.closures) == 2


def test_no_paper_halo_between_the_fill_and_an_antialiased_line() -> None:
    g = np.full((160, 160), 255, np.uint8)
    cv2.circle(g, (80, 80), 50, 0, 3, cv2.LINE_AA)
    assert ((g > 0) & (g < 200)).sum() > 100  # an antialiased edge with mid grays
    white_model = np.full((160, 160, 3), 255, np.uint8)  # a model that painted paper everywhere
    out = flatten_regions(white_model, g, hint_layer(160, 160, [PointHint(80, 80, GREEN)]))
    dist = np.hypot(*np.mgrid[-80:80, -80:80])
    edge = (dist < 50) & (g < 255)  # the inner side of the line, fringe included
    assert edge.sum() > 100
    # Under the fringe the fill shows through (green times the line's gray), never the white paper:
    # its red and blue stay at most the fill's own.
    assert out[edge][:, 0].max() <= GREEN[0] and out[edge][:, 2].max() <= GREEN[2]
    assert (out[dist < 46] == GREEN).all()


def test_a_thin_region_between_close_lines_is_kept() -> None:
    g = np.full((60, 80), 255, np.uint8)
    cv2.rectangle(g, (10, 10), (70, 50), 0, 1)
    cv2.line(g, (10, 28), (70, 28), 0, 1)
    cv2.line(g, (10, 31), (70, 31), 0, 1)  # a strip two pixels high between them
    hints = hint_layer(60, 80, [PointHint(40, 20, RED), PointHint(40, 29.5, GREEN), PointHint(40, 40, BLUE)])
    out = flatten_regions(_blotchy(60, 80, (128, 128, 128)), g, hints)
    assert (out[29:31, 12:69] == GREEN).all()
    assert (out[12:27, 12:69] == RED).all() and (out[33:49, 12:69] == BLUE).all()


def test_unhinted_border_regions_keep_the_paper_unless_told_otherwise() -> None:
    g = np.full((80, 120), 255, np.uint8)
    cv2.rectangle(g, (10, 10), (50, 70), 0, 2)  # an unhinted box
    cv2.rectangle(g, (70, 10), (110, 70), 0, 2)  # a box marked as transparent background
    rgb = _blotchy(80, 120, BLUE)
    background = np.zeros((80, 120), bool)
    background[40, 90] = True
    out = flatten_regions(rgb, g, None, background=background)
    assert (out[0:5].reshape(-1, 3) == WHITE).all() and (out[20:60, 80:100] == WHITE).all()
    inner = out[20:60, 20:40].reshape(-1, 3)
    assert (inner == inner[0]).all() and np.abs(inner[0].astype(int) - BLUE).max() <= 3  # the model's
    model = flatten_regions(rgb, g, None, background=background, paper=False)
    assert (model[0:5].reshape(-1, 3) == inner[0]).all() and (model[20:60, 80:100] == inner[0]).all()
    # A hinted border region takes its hint, paper or not.
    hinted = flatten_regions(rgb, g, hint_layer(80, 120, [PointHint(60, 5, RED)]))
    assert (hinted[0:5].reshape(-1, 3) == RED).all()


def test_a_heavy_stroke_costs_its_bounding_box_not_points_times_width() -> None:
    rng = np.random.default_rng(3)
    h, w = 3000, 4000
    pts = tuple((float(x), float(y)) for x, y in rng.uniform(0, (w, h), (4096, 2)))
    work = PaintedPixels()
    layer = hint_layer(h, w, (), [StrokeHint(pts, 1024, RED)], work=work)
    assert work.pixels <= h * w  # at most its (clipped) bounding box ...
    assert work.pixels * 300 < 4096 * 1024**2  # ... where brush dabs would be 4.3 G pixels
    assert (layer[..., 3] == 255).all() and (layer[..., :3] == RED).all()  # and it is painted


def test_a_stroke_is_the_same_shape_either_way() -> None:
    corners = np.array([(20.0, 30.0), (150.0, 60.0), (90.0, 170.0), (180.0, 180.0)])
    # The same polyline with 40 points: their dabs would cost more than the stroke's box.
    t = np.linspace(0, 3, 40)
    dense = np.stack([np.interp(t, np.arange(4), corners[:, k]) for k in (0, 1)], 1)
    boxed, dabbed = PaintedPixels(), PaintedPixels()
    by_box = hint_layer(200, 200, (), [StrokeHint(tuple(map(tuple, dense)), 41, GREEN)], work=boxed)
    by_dabs = hint_layer(200, 200, (), [StrokeHint(tuple(map(tuple, corners)), 41, GREEN)], work=dabbed)
    assert dabbed.pixels == 4 * 42**2 and boxed.pixels < 40 * 42**2
    a, b = by_box[..., 3] > 0, by_dabs[..., 3] > 0
    assert (a & b).sum() / (a | b).sum() > 0.95  # rounding the points apart
    # Every pixel within the brush radius of the polyline, and nothing beyond it.
    center = np.ones((200, 200), np.uint8)
    cv2.polylines(center, [corners.astype(np.int32).reshape(-1, 1, 2)], False, 0, 1)
    dist = cv2.distanceTransform(center, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    assert a[dist <= 19].all() and not a[dist >= 23].any()
    assert (by_box[a][:, :3] == GREEN).all()


def test_more_regions_than_uint16_labels_hold() -> None:
    # A 2 px grid: one-pixel paper cells between 1 px lines, 260 x 260 of them (67,600 regions).
    g = np.full((520, 520), 255, np.uint8)
    g[::2] = 0
    g[:, ::2] = 0
    hints = hint_layer(520, 520, [PointHint(1, 1, RED)])
    rgb = _blotchy(520, 520, BLUE)
    out = flatten_regions(rgb, g, hints, gap=0, min_area=1)
    assert tuple(out[1, 1]) == RED  # the hinted cell, its own color
    assert tuple(out[301, 301]) == tuple(rgb[301, 301])  # an unhinted one-pixel region: the model's
    assert (out[::2] == 0).all()  # the lines drawn over


def test_over_65535_regions_are_labelled_in_int32() -> None:
    # A grid of one-pixel cells: 90,000 regions, more than uint16 labels hold (OpenCV's 16-bit
    # labelling raises or, before 2025, would wrap: the int32 path must take over).
    g = np.zeros((600, 600), np.uint8)
    g[::2, ::2] = 255
    labels, n = line_regions(g, gap=0, min_area=1, grow=0)
    assert n == 300 * 300 + 1 and labels.dtype == np.int32
    assert labels[0, 0] != labels[0, 2] and labels[0, 1] == 0
    out = flatten_regions(_blotchy(600, 600, BLUE), g, None, gap=0, min_area=1, paper=False)
    assert out.shape == (600, 600, 3)


def _zhang_suen(mask: np.ndarray, max_passes: int) -> np.ndarray:
    """Zhang-Suen the textbook way, every pixel judged in every sub-pass (pure numpy, no tables)."""
    skel = np.pad(mask.astype(np.uint8), 1)
    for _ in range(max_passes):
        changed = 0
        for sub in (0, 1):
            c = skel[1:-1, 1:-1]
            n, ne, e, se = skel[:-2, 1:-1], skel[:-2, 2:], skel[1:-1, 2:], skel[2:, 2:]
            s, sw, w, nw = skel[2:, 1:-1], skel[2:, :-2], skel[1:-1, :-2], skel[:-2, :-2]
            ring = [n, ne, e, se, s, sw, w, nw]
            b = sum(p.astype(int) for p in ring)
            a = sum(((ring[i] == 0) & (ring[(i + 1) % 8] == 1)).astype(int) for i in range(8))
            first, second = (n * e * s == 0) & (e * s * w == 0), (n * e * w == 0) & (n * s * w == 0)
            cond = first if sub == 0 else second
            gone = (c == 1) & (b >= 2) & (b <= 6) & (a == 1) & cond
            changed += int(gone.sum())
            skel[1:-1, 1:-1][gone] = 0
        if changed <= THINNING_DONE * int(skel.sum()):
            break
    return skel[1:-1, 1:-1]


def test_thinning_with_its_sparse_tail_equals_the_textbook_zhang_suen() -> None:
    # Thick strokes and noise take many passes, so the sparse tail (only pixels next to the last
    # deletions judged again) runs; it must delete exactly what judging every pixel deletes.
    rng = np.random.default_rng(3)
    for case in range(40):
        h, w = (int(v) for v in rng.integers(8, 160, 2))
        m = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.integers(1, 10))):
            p, q = (tuple(int(v) for v in rng.integers(0, max(h, w), 2)) for _ in range(2))
            cv2.line(m, p, q, 1, int(rng.integers(1, 16)))
        if case % 3 == 0:
            m |= (rng.random((h, w)) < 0.2).astype(np.uint8)
        for passes in (MAX_THINNING, 3):
            np.testing.assert_array_equal(thin(m, passes), _zhang_suen(m, passes), err_msg=f"case {case}")
