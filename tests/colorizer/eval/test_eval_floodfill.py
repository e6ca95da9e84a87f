"""The flood-fill baseline: exact inside closed lines, leaking through a gap."""

from __future__ import annotations

import numpy as np

from colorizer.eval.color import srgb_to_lab
from colorizer.eval.metrics import bleeding
from colorizer.eval.systems import FloodFillSystem

RED = (220, 30, 30)  # the two-region case's left color (conftest)



def test_flood_fill_is_exact_on_closed_lines(two_regions) -> None:  # type: ignore[no-untyped-def]
    case = two_regions()
    out = FloodFillSystem().colorize(case.sketch, case.hint_map(2))
    inside = case.labels > 0
    np.testing.assert_array_equal(out[inside], case.truth[inside])
    b = bleeding(srgb_to_lab(out), case.truth_lab, case.labels, case.neighbours, case.hints[:1])
    assert b.bled == 0


def test_flood_fill_leaks_through_a_gap(two_regions) -> None:  # type: ignore[no-untyped-def]
    case = two_regions(gap=True)
    out = FloodFillSystem().colorize(case.sketch, case.hint_map(1))  # only the red hint
    assert (out[case.labels == 2] == RED).all()  # the whole blue region turned red
    b = bleeding(srgb_to_lab(out), case.truth_lab, case.labels, case.neighbours, case.hints[:1])
    assert b.bled == b.eligible > 0


def test_flood_fill_without_hints_returns_the_sketch(two_regions) -> None:  # type: ignore[no-untyped-def]
    case = two_regions()
    out = FloodFillSystem().colorize(case.sketch, case.hint_map(0))
    np.testing.assert_array_equal(out, np.repeat(case.sketch[:, :, None], 3, axis=2))


def test_two_hints_in_one_region_split_it_by_distance(two_regions) -> None:  # type: ignore[no-untyped-def]
    case = two_regions(gap=True)
    out = FloodFillSystem().colorize(case.sketch, case.hint_map(2))  # red left, blue right, joined
    assert (out[:, 5] == RED).all()
    assert (out[:, 60] == case.truth[0, 60]).all()
