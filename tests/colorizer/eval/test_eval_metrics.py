"""The metrics on hand-made images whose right answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from colorizer.eval.color import srgb_to_lab
from colorizer.eval.metrics import bleeding, flat_deviation, hint_fidelity, psnr, ssim, unhinted_error

RED, BLUE = (220, 30, 30), (30, 60, 200)  # the two-region case's colors (conftest)



def _bleeding(case, output, count=2):  # type: ignore[no-untyped-def]
    return bleeding(srgb_to_lab(output), case.truth_lab, case.labels, case.neighbours, case.hints[:count])


def test_perfect_fill_has_no_bleeding_and_exact_fidelity(two_regions) -> None:  # type: ignore[no-untyped-def]
    case = two_regions()
    b = _bleeding(case, case.truth)
    assert b.bled == 0
    # Both regions are eligible: each neighbour's hint differs from its truth.
    assert b.eligible == int((case.labels > 0).sum())
    assert hint_fidelity(case.truth, case.labels, case.hints) == pytest.approx([0.0, 0.0], abs=1e-9)
    sq, n = flat_deviation(srgb_to_lab(case.truth), case.labels)
    assert sq == pytest.approx(0.0) and n > 0


def test_leak_across_the_line_counts_as_bleeding(two_regions) -> None:  # type: ignore[no-untyped-def]
    case = two_regions(gap=True)
    out = case.truth.copy()
    # Red leaks 10 px into the blue region through the gap, over 12 rows.
    out[26:38, 33:43] = RED
    b = _bleeding(case, out, count=1)  # only the red hint: the blue region is unhinted
    assert b.bled == 12 * 10
    assert b.eligible == int((case.labels == 2).sum())
    assert b.kept == int((case.labels == 1).sum())  # the whole red region is red
    # A model that paints no hint color at all neither bleeds nor keeps: no leak share to claim.
    gray = np.full_like(case.truth, 128)
    g = _bleeding(case, gray, count=1)
    assert g.bled == 0 and g.kept == 0
    # Halfway colors between red and blue are not "from the hint" unless nearer than half way.
    mixed = case.truth.copy()
    mixed[26:38, 33:43] = ((np.array(RED) + np.array(BLUE)) // 2).astype(np.uint8)
    assert _bleeding(case, mixed, count=1).bled == 0


def test_wrong_color_far_from_the_hint_is_not_bleeding(two_regions) -> None:  # type: ignore[no-untyped-def]
    case = two_regions()
    out = case.truth.copy()
    out[:, 33:] = (40, 200, 40)  # green: wrong, but not the neighbour's red
    assert _bleeding(case, out, count=1).bled == 0
    _, n = unhinted_error(srgb_to_lab(out), case.truth_lab, case.labels, case.hints[:1])
    assert n == int((case.labels == 2).sum())


def test_own_hint_of_the_same_color_is_not_bleeding(two_regions) -> None:  # type: ignore[no-untyped-def]
    case = two_regions()
    case.hints.append(case.hints[0].__class__(row=12, col=13, rgb=RED, label=2))  # user asks red there
    out = case.truth.copy()
    out[:, 33:] = RED
    assert _bleeding(case, out, count=3).bled == 0


def test_fidelity_unhinted_error_and_flat_spread_respond_to_errors(two_regions) -> None:  # type: ignore[no-untyped-def]
    case = two_regions()
    out = case.truth.copy()
    out[:, 33:] = (30, 60, 120)  # right region darker blue
    fid = hint_fidelity(out, case.labels, case.hints)
    assert fid[0] == pytest.approx(0.0, abs=1e-9) and fid[1] > 5.0
    total, n = unhinted_error(srgb_to_lab(out), case.truth_lab, case.labels, case.hints[:1])
    assert total / n > 5.0
    noisy = case.truth.copy()
    rng = np.random.default_rng(0)
    noisy[:, :30] = np.clip(noisy[:, :30] + rng.integers(-30, 30, (64, 30, 3)), 0, 255).astype(np.uint8)
    sq, n = flat_deviation(srgb_to_lab(noisy), case.labels)
    assert np.sqrt(sq / n) > 3.0


def test_psnr_and_ssim(two_regions) -> None:  # type: ignore[no-untyped-def]
    case = two_regions()
    assert psnr(case.truth, case.truth) == float("inf")
    assert ssim(case.truth, case.truth) == pytest.approx(1.0)
    off = np.clip(case.truth.astype(int) + 10, 0, 255).astype(np.uint8)
    assert psnr(off, case.truth) == pytest.approx(10 * np.log10(255**2 / 100), abs=0.2)
    # Structure matters to SSIM: noise (std 40) ruins it far more than a uniform offset does.
    rng = np.random.default_rng(1)
    noisy = np.clip(case.truth + rng.normal(0, 40, case.truth.shape), 0, 255).astype(np.uint8)
    assert ssim(noisy, case.truth) < 0.3 < 0.9 < ssim(off, case.truth) < 1.0
