"""Held-out synthetic cases and hint placement."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from colorizer import contract
from colorizer.eval.cases import EVAL_SEED, LINE_THRESHOLD, image_case, image_files, synthetic_case


def test_synthetic_case_is_deterministic_and_held_out() -> None:
    a, b = synthetic_case(0, 64), synthetic_case(0, 64)
    np.testing.assert_array_equal(a.truth, b.truth)
    np.testing.assert_array_equal(a.sketch, b.sketch)
    assert a.hints == b.hints
    assert EVAL_SEED >= 10**6 and EVAL_SEED != 1_000_003  # neither training nor its validation stream


def test_hints_sit_inside_one_region_with_its_color_and_cover_regions_first() -> None:
    case = synthetic_case(1, 128)
    s = contract.HINT_SCALE
    assert len(case.hints) == 64
    for h in case.hints:
        block = case.labels[h.row * s : (h.row + 1) * s, h.col * s : (h.col + 1) * s]
        assert (block == h.label).all()
        assert tuple(case.truth[h.row * s + 1, h.col * s + 1]) == h.rgb  # flat region: its color
    # The first hints go to distinct regions (one per region before any region gets a second).
    first = [h.label for h in case.hints]
    n_regions = len({h.label for h in case.hints})
    assert len(set(first[:n_regions])) == n_regions
    # Fewer hints are a prefix of more: the hint map for 4 is inside the one for 16.
    m4, m16 = case.hint_map(4), case.hint_map(16)
    assert m4[3].sum() == 4 and m16[3].sum() == 16
    assert (m16[3][m4[3] > 0] > 0).all()


def test_gaps_keep_hints_and_truth_but_open_lines() -> None:
    closed, gapped = synthetic_case(2, 128), synthetic_case(2, 128, gaps=10)
    assert closed.hints == gapped.hints
    np.testing.assert_array_equal(closed.truth, gapped.truth)
    assert (gapped.sketch >= closed.sketch).all()
    assert (gapped.sketch >= LINE_THRESHOLD).sum() > (closed.sketch >= LINE_THRESHOLD).sum()
    wider = synthetic_case(2, 128, gaps=10, gap_radius=5)  # the same holes, 11 px instead of 7
    assert (wider.sketch >= gapped.sketch).all()
    assert (wider.sketch >= LINE_THRESHOLD).sum() > (gapped.sketch >= LINE_THRESHOLD).sum()


def test_neighbours_are_symmetric_and_exclude_lines() -> None:
    case = synthetic_case(3, 64)
    for k, near in case.neighbours.items():
        assert 0 not in near and k not in near
        for j in near:
            assert k in case.neighbours[j]


def test_image_folder_case_uses_line_components(tmp_path: Path) -> None:
    from colorizer.data.synth import render_indexed

    color = render_indexed(EVAL_SEED, 4, 96).color
    # A non-square file: the case center-crops it to a square and resizes it to 64.
    wide = np.concatenate([color, color[:, :32]], axis=1)
    path = tmp_path / "picture.png"
    cv2.imwrite(str(path), cv2.cvtColor(wide, cv2.COLOR_RGB2BGR))
    assert image_files(tmp_path) == [path]
    case = image_case(path, 64)
    assert case.truth.shape == (64, 64, 3) and case.sketch.shape == (64, 64)
    assert (case.labels[case.sketch < LINE_THRESHOLD] == 0).all()
    assert len(case.hints) > 0
    for h in case.hints:  # every hint's block lies in the one component it names
        block = case.labels[h.row * 4 : h.row * 4 + 4, h.col * 4 : h.col * 4 + 4]
        assert (block == h.label).all()
