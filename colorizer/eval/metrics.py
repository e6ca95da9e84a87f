"""The quality metrics of docs/QUALITY.md, one function per question of the paper (numpy + OpenCV).

Every function takes the case's ground truth (RGB image, region labels, hints) and one output
image, and returns plain numbers: sums and counts where a metric is pooled over cases, so that
:mod:`colorizer.eval.runner` can aggregate them without keeping the images.

Conventions shared by all functions: ``labels`` is an int32 [H, W] map where 0 marks pixels no
region metric looks at (ink, and pixels the sketch draws as line), so that two regions with
different labels are always separated by a line of the sketch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from colorizer.eval.color import ciede2000, srgb_to_lab

U8 = npt.NDArray[np.uint8]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]

#: Two colors closer than this (CIEDE2000) count as the same color in the bleeding metric: a
#: neighbour's hint that matches a region's own truth cannot be told apart from a correct fill,
#: and an output this close to a neighbour's hint has taken that hint's color.
SAME_COLOR_DE = 10.0


@dataclass(frozen=True)
class Hint:
    """One color hint: a cell of the 1/4-resolution hint map, its RGB color and its region label."""

    row: int
    col: int
    rgb: tuple[int, int, int]
    label: int


def psnr(output: U8, truth: U8) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels (peak 255); inf when equal."""
    mse = float(np.mean((output.astype(np.float64) - truth.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ssim(output: U8, truth: U8) -> float:
    """Mean SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 .01, K2 .03) over RGB."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    x = output.astype(np.float64)
    y = truth.astype(np.float64)

    def blur(a: F64) -> F64:
        return np.asarray(cv2.GaussianBlur(a, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT), np.float64)

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s.mean())


def region_means_lab(image: U8, labels: I32) -> dict[int, F64]:
    """Per nonzero label, the CIELAB color of the region's mean sRGB value."""
    flat = labels.ravel()
    n = int(flat.max()) + 1 if flat.size else 1
    counts = np.bincount(flat, minlength=n).astype(np.float64)
    rgb = image.reshape(-1, 3).astype(np.float64)
    sums = np.stack([np.bincount(flat, weights=rgb[:, c], minlength=n) for c in range(3)], 1)
    present = np.nonzero(counts)[0]
    present = present[present != 0]
    means = srgb_to_lab(sums[present] / counts[present, None])
    return {int(k): means[i] for i, k in enumerate(present)}


def hint_fidelity(output: U8, labels: I32, hints: Sequence[Hint]) -> list[float]:
    """(Q1) Per hint, CIEDE2000 between its color and the mean output color of its region."""
    if not hints:
        return []
    means = region_means_lab(output, labels)
    hint_lab = srgb_to_lab(np.array([h.rgb for h in hints], dtype=np.float64))
    region_lab = np.stack([means[h.label] for h in hints])
    return [float(v) for v in ciede2000(hint_lab, region_lab)]


@dataclass(frozen=True)
class Bleeding:
    """(Q2) Pixels that took a neighbouring region's hint color, out of the pixels that could;
    and the pixels of the hinted regions themselves that took their own hint's color.

    ``bled / (bled + kept)`` is the *leak share*: of the pixels painted in a hint's color, the
    share that lies across a line. Unlike ``bled / eligible`` it does not reward a model that
    paints no hint color anywhere (that model has neither bled nor kept pixels).
    """

    bled: int
    eligible: int
    kept: int = 0


def bleeding(
    output_lab: F64,
    truth_lab: F64,
    labels: I32,
    neighbours: Mapping[int, Sequence[int]],
    hints: Sequence[Hint],
) -> Bleeding:
    """(Q2) Count pixels colored from a hint of a neighbouring, line-separated region.

    For every hinted region ``q`` and every region ``r`` next to it (``neighbours``: within a
    line's width, so a line of the sketch separates them), each of ``r``'s pixels ``p`` whose
    truth ``t`` differs from ``q``'s hint color ``h`` by more than :data:`SAME_COLOR_DE` is
    *eligible*, unless ``r`` carries a hint of that color itself. An eligible pixel has *bled*
    when its output ``o`` has taken on ``h``: ``CIEDE2000(o, h) < min(SAME_COLOR_DE,
    CIEDE2000(h, t) / 2)``, the same color as the hint and nearer to it than to the truth. A
    merely wrong color (a gray from an untrained model, say) is not bleeding unless it happens to
    be the neighbour's hint color. Pixels are counted once however many hints reach them.
    """
    by_label: dict[int, list[tuple[int, int, int]]] = {}
    for h in hints:
        by_label.setdefault(h.label, [])
        if h.rgb not in by_label[h.label]:
            by_label[h.label].append(h.rgb)
    own_lab = {k: srgb_to_lab(np.array(v, dtype=np.float64)) for k, v in by_label.items()}
    # For each target region, the hint colors of its line-separated hinted neighbours.
    incoming: dict[int, list[F64]] = {}
    for q, colors in own_lab.items():
        for r in neighbours.get(q, ()):
            for lab in colors:
                if r in own_lab and np.min(ciede2000(own_lab[r], lab)) <= SAME_COLOR_DE:
                    continue  # r is hinted with that color itself: the color is legitimate there
                incoming.setdefault(r, []).append(lab)
    kept = 0
    for q, colors in own_lab.items():
        out_q = output_lab[labels == q]
        took = np.zeros(len(out_q), dtype=bool)
        for lab in colors:
            took |= ciede2000(out_q, lab) < SAME_COLOR_DE
        kept += int(took.sum())
    bled = eligible = 0
    for r, sources in incoming.items():
        mask = labels == r
        out_r, truth_r = output_lab[mask], truth_lab[mask]
        any_eligible = np.zeros(len(out_r), dtype=bool)
        any_bled = np.zeros(len(out_r), dtype=bool)
        for lab in sources:
            gap = ciede2000(truth_r, lab)
            ok = gap > SAME_COLOR_DE
            any_eligible |= ok
            any_bled |= ok & (ciede2000(out_r, lab) < np.minimum(gap / 2.0, SAME_COLOR_DE))
        eligible += int(any_eligible.sum())
        bled += int(any_bled.sum())
    return Bleeding(bled=bled, eligible=eligible, kept=kept)


def flat_deviation(output_lab: F64, labels: I32, min_pixels: int = 64) -> tuple[float, int]:
    """(Q2) Color spread inside flat regions: sum of squared Lab deviations from each region's mean
    (over regions eroded by one pixel and at least ``min_pixels`` large) and the pixel count.

    ``sqrt(sum / count)`` is the pooled standard deviation in Lab units; a perfectly flat fill gives 0.
    """
    total, count = 0.0, 0
    kernel = np.ones((3, 3), np.uint8)
    for k in np.unique(labels):
        if k == 0:
            continue
        mask = cv2.erode((labels == k).astype(np.uint8), kernel).astype(bool)
        n = int(mask.sum())
        if n < min_pixels:
            continue
        px = output_lab[mask]
        total += float(((px - px.mean(axis=0)) ** 2).sum())
        count += n
    return total, count


def unhinted_error(output_lab: F64, truth_lab: F64, labels: I32, hints: Sequence[Hint]) -> tuple[float, int]:
    """(Q4) Sum of per-pixel CIEDE2000 to the truth over regions without a hint, and the pixel count."""
    hinted = np.array(sorted({h.label for h in hints} | {0}), dtype=labels.dtype)
    mask = ~np.isin(labels, hinted)
    n = int(mask.sum())
    if n == 0:
        return 0.0, 0
    return float(ciede2000(output_lab[mask], truth_lab[mask]).sum()), n


#: CIELAB of white paper (255, 255, 255): what the transparent background of a drawing should stay.
WHITE_LAB = srgb_to_lab(np.array([255.0, 255.0, 255.0]))


def figure_error(output_lab: F64, truth_lab: F64, mask: npt.NDArray[np.bool_]) -> tuple[float, int]:
    """Sum of per-pixel CIEDE2000 to the truth over ``mask`` (the drawing's non-line pixels) and
    the pixel count: the overall color error of the figure, hinted or not."""
    n = int(np.count_nonzero(mask))
    if n == 0:
        return 0.0, 0
    return float(ciede2000(output_lab[mask], truth_lab[mask]).sum()), n


def paper_error(output_lab: F64, mask: npt.NDArray[np.bool_]) -> tuple[float, int]:
    """("Paper stays paper") Sum of per-pixel CIEDE2000 from white over ``mask`` (the transparent
    background, lines excluded) and the pixel count: a model that tints or paints the paper."""
    n = int(np.count_nonzero(mask))
    if n == 0:
        return 0.0, 0
    return float(ciede2000(output_lab[mask], WHITE_LAB).sum()), n
