"""``--set real``: cases from prepared line-art pairs, figure and paper error, and the CLI end to end.

Every drawing here is made by hand in a temporary ROOT laid out as the data stage writes it, so
the right answers are known.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from colorizer import contract
from colorizer.eval import eval_cmd
from colorizer.eval.cases import LINE_THRESHOLD, PER_REGION
from colorizer.eval.color import ciede2000, srgb_to_lab
from colorizer.eval.metrics import WHITE_LAB, figure_error, paper_error
from colorizer.eval.real import (
    ALL_SET,
    NoRealData,
    flat_cells,
    real_case,
    real_sets,
    region_labels,
    split_pairs,
)
from colorizer.eval.runner import Cell

REPO = Path(__file__).resolve().parents[3]
MODEL = REPO / "model_repository" / "colorizer" / "1" / "model.onnx"
RED, BLUE = (220, 30, 30), (30, 60, 200)
FILE_SIZE = 128


def _drawing(gradient: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(lines, RGBA colors) at FILE_SIZE: a square outline split by a vertical line, the left half
    red, the right half blue (or a left-to-right gradient), transparent paper around it whose RGB
    is garbage green (it must not matter)."""
    s = FILE_SIZE
    lines = np.full((s, s), 255, np.uint8)
    cv2.rectangle(lines, (16, 16), (111, 111), 0, 4)
    cv2.line(lines, (64, 16), (64, 111), 0, 4)
    lines = cv2.GaussianBlur(lines, (3, 3), 0)  # antialiased, as rendered line art is
    rgba = np.zeros((s, s, 4), np.uint8)
    rgba[..., :3] = (0, 255, 0)
    rgba[14:114, 14:114] = (*RED, 255)
    if gradient:
        ramp = np.linspace(0, 255, 50).astype(np.uint8)
        rgba[14:114, 64:114, 0] = ramp[None, :]
        rgba[14:114, 64:114, 1] = 255 - ramp[None, :]
        rgba[14:114, 64:114, 2] = 128
    else:
        rgba[14:114, 64:114, :3] = BLUE
    rgba[lines < 128] = (0, 0, 0, 255)
    return lines, rgba


def _write_source(root: Path, source: str, pairs: dict[str, tuple[str, bool]]) -> None:
    """A prepared source: pairs ``name -> (split, gradient)``."""
    folder = root / source
    (folder / "lines").mkdir(parents=True)
    (folder / "color").mkdir()
    entries = []
    for name, (split, gradient) in pairs.items():
        lines, rgba = _drawing(gradient)
        cv2.imwrite(str(folder / "lines" / f"{name}.png"), lines)
        cv2.imwrite(str(folder / "color" / f"{name}.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
        entries.append({"name": name, "drawing": name, "split": split, "how": "drawn by the test"})
    manifest = {
        "source": source,
        "version": "0.0.0",
        "license": "CC0-1.0",
        "attribution": "the test",
        "size": FILE_SIZE,
        "pairs": entries,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A ROOT with two sources: openmoji (two test pairs, one a gradient; one train pair) and
    streamline (one test pair, one val pair)."""
    root = tmp_path / "real"
    _write_source(
        root, "openmoji", {"flat": ("test", False), "grad": ("test", True), "seen": ("train", False)}
    )
    _write_source(root, "streamline", {"icon": ("test", False), "held": ("val", False)})
    return root


def test_loads_only_the_test_split(root: Path) -> None:
    sets, facts = real_sets(root, size=64)
    assert list(sets) == ["real: openmoji", "real: streamline"]
    assert [c.name for c in sets["real: openmoji"]] == ["openmoji/flat", "openmoji/grad"]
    assert [c.name for c in sets["real: streamline"]] == ["streamline/icon"]
    assert facts["openmoji"]["cases"] == 2 and facts["openmoji"]["license"] == "CC0-1.0"
    only, _ = real_sets(root, ["streamline"], size=64)
    assert list(only) == ["real: streamline"]
    limited, _ = real_sets(root, size=64, limit=1)
    assert len(limited["real: openmoji"]) == 1
    again, _ = real_sets(root, size=64, limit=1)
    assert [c.name for c in limited["real: openmoji"]] == [c.name for c in again["real: openmoji"]]


def test_split_pairs_limit_is_a_fixed_spread() -> None:
    manifest = {"pairs": [{"name": f"n{i:03d}", "split": "test" if i % 2 else "train"} for i in range(40)]}
    every = split_pairs(manifest)
    assert len(every) == 20 and all(p["split"] == "test" for p in every)
    five = split_pairs(manifest, 5)
    assert five == split_pairs(manifest, 5) and len(five) == 5
    assert [p["name"] for p in five] == sorted(p["name"] for p in five)


def test_one_case_per_drawing() -> None:
    """Skin-tone variants share a drawing: one of them is evaluated, not all five."""
    pairs = [{"name": f"wave-{t}", "drawing": "wave", "split": "test"} for t in "abcde"]
    pairs += [{"name": "apple", "drawing": "apple", "split": "test"}]
    assert [p["name"] for p in split_pairs({"pairs": pairs})] == ["apple", "wave-a"]


def test_missing_or_unknown_data_is_refused(root: Path, tmp_path: Path) -> None:
    with pytest.raises(NoRealData, match="make data"):
        real_sets(tmp_path / "nothing", size=64)
    with pytest.raises(NoRealData, match="facesjs"):
        real_sets(root, ["facesjs"], size=64)
    with pytest.raises(ValueError, match="unknown"):
        real_sets(root, ["flickr"], size=64)
    with pytest.raises(ValueError, match="never upsampled"):
        real_sets(root, size=256)


def test_case_from_a_pair(root: Path) -> None:
    case = real_case(root / "openmoji", "flat", 64)
    assert case.sketch.shape == (64, 64) and case.truth.shape == (64, 64, 3)
    # Truth composited over white: the transparent paper is white, not the garbage green under it.
    assert tuple(case.truth[2, 2]) == (255, 255, 255)
    assert tuple(case.truth[20, 16]) == RED and tuple(case.truth[20, 48]) == BLUE
    assert case.background is not None and case.background[2, 2] and not case.figure_mask[2, 2]
    assert case.figure_mask[20, 16] and not case.background[20, 16]
    line = case.sketch < LINE_THRESHOLD
    assert not (case.figure_mask & line).any() and not (case.background & line).any()
    # Region metrics look at the figure only: 0 on lines and on the paper.
    assert (case.labels[line | case.background] == 0).all()
    assert len(np.unique(case.labels[case.labels > 0])) == 2


def test_gap_widths_punch_holes_of_that_width_and_keep_the_closed_truth(root: Path) -> None:
    sets, _ = real_sets(root, ["openmoji"], size=64, gaps=4, gap_widths=(3, 7))
    assert list(sets) == ["real: openmoji", "real: openmoji, 3 px gaps", "real: openmoji, 7 px gaps"]
    closed, three, seven = (sets[k][0] for k in sets)
    assert three.name == "openmoji/flat-gaps4x3" and seven.name == "openmoji/flat-gaps4x7"
    line = closed.sketch < LINE_THRESHOLD
    opened3 = line & (three.sketch >= LINE_THRESHOLD)
    opened7 = line & (seven.sketch >= LINE_THRESHOLD)
    assert 0 < opened3.sum() < opened7.sum()  # holes, wider ones opening more of the lines
    assert (three.sketch >= closed.sketch).all()  # holes only: no ink added
    # What is scored stays the closed drawing's: same hints, labels and masks.
    assert three.hints == closed.hints and np.array_equal(seven.labels, closed.labels)
    assert three.figure is not None and np.array_equal(three.figure, closed.figure)


def test_hints_are_flat_inside_the_figure_and_one_per_region_first(root: Path) -> None:
    s = contract.HINT_SCALE
    for name, regions in (("flat", 2), ("grad", 1)):  # the gradient half is not hintable
        case = real_case(root / "openmoji", name, 64)
        assert case.region_count == regions
        assert len({h.label for h in case.hints[:regions]}) == regions
        assert case.hint_map(PER_REGION)[3].sum() == regions
        for h in case.hints:
            ys, xs = slice(h.row * s, (h.row + 1) * s), slice(h.col * s, (h.col + 1) * s)
            assert (case.labels[ys, xs] == h.label).all()  # one region, no line in the cell
            assert (case.sketch[ys, xs] >= LINE_THRESHOLD).all()
            assert case.figure_mask[ys, xs].all()
            assert case.background is not None and not case.background[ys, xs].any()
            assert h.rgb in (RED, BLUE)
    # Fewer hints are a prefix of more.
    case = real_case(root / "openmoji", "flat", 64)
    m4, m16 = case.hint_map(4), case.hint_map(16)
    assert (m16[3][m4[3] > 0] > 0).all()


def test_flat_cells_reject_gradients_and_edges() -> None:
    truth = np.full((8, 8, 3), 200, np.uint8)
    truth[:4, 4:] = np.linspace(0, 255, 4).astype(np.uint8)[None, :, None]  # a steep ramp
    truth[4:, :4] = (200, 200, 200)
    truth[7, 3] = (0, 0, 0)  # one dark pixel
    assert flat_cells(truth).tolist() == [[True, False], [False, True]]


def test_thin_antialiased_lines_stay_closed_after_downsampling() -> None:
    """Why line = gray < 250: a 1 px circle at 512, area-reduced to 128, is never darker than ~146."""
    img = np.full((512, 512), 255, np.uint8)
    cv2.circle(img, (256, 256), 180, 0, 1, cv2.LINE_AA)
    small = cv2.resize(img, (128, 128), interpolation=cv2.INTER_AREA)
    assert small.min() > 128
    labels, _ = region_labels(small, np.zeros(small.shape, bool))
    assert labels[64, 64] != 0 and labels[2, 2] != 0 and labels[64, 64] != labels[2, 2]


def test_exact_output_scores_zero_and_a_tinted_paper_its_tint(root: Path) -> None:
    case = real_case(root / "openmoji", "flat", 64)
    assert case.background is not None
    cell = Cell()
    cell.add(case, case.truth.copy(), 4)
    summary = cell.summary()
    assert summary["figure_de"] == pytest.approx(0.0, abs=1e-9)
    assert summary["paper_de"] == pytest.approx(0.0, abs=1e-9)
    tint = (235, 235, 255)
    out = case.truth.copy()
    out[case.background] = tint
    expected = float(ciede2000(srgb_to_lab(np.array(tint, float)), WHITE_LAB))
    assert expected > 3.0
    cell = Cell()
    cell.add(case, out, PER_REGION)
    summary = cell.summary()
    assert summary["paper_de"] == pytest.approx(expected, abs=1e-9)
    assert summary["figure_de"] == pytest.approx(0.0, abs=1e-9)
    total, n = paper_error(srgb_to_lab(out), case.background)
    assert n == int(case.background.sum()) and total / n == pytest.approx(expected)
    # Painting the figure white instead: the figure error, not the paper error.
    white = case.truth.copy()
    white[case.figure_mask] = 255
    s, n = figure_error(srgb_to_lab(white), case.truth_lab, case.figure_mask)
    assert s / n > 30.0


def test_synthetic_cases_have_no_paper_error(two_regions) -> None:  # type: ignore[no-untyped-def]
    case = two_regions()
    cell = Cell()
    cell.add(case, case.truth, 2)
    summary = cell.summary()
    assert summary["paper_de"] is None
    assert summary["figure_de"] == pytest.approx(0.0, abs=1e-9)
    out = case.truth.copy()
    out[:, :31] = BLUE
    cell = Cell()
    cell.add(case, out, 2)
    assert cell.summary()["figure_de"] > 10.0  # over all non-line pixels, hinted or not


def test_parse_counts_with_region_token() -> None:
    assert eval_cmd._parse_counts("16,region,0,4") == [0, 4, 16, PER_REGION]
    assert eval_cmd._parse_counts("region") == [PER_REGION]
    with pytest.raises(ValueError):
        eval_cmd._parse_counts("0,regions")


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    eval_cmd.add_arguments(parser)
    return eval_cmd.run(parser.parse_args(argv))


def test_cli_without_prepared_data_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = _run(["--set", "real", "--data-root", str(tmp_path / "none"), "--onnx", str(MODEL), "--size", "64"])
    assert rc == 2
    assert "make data" in capsys.readouterr().err


@pytest.mark.skipif(not MODEL.is_file(), reason="the shipped ONNX model is not in the checkout")
def test_cli_end_to_end_with_the_shipped_model(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    rc = _run(
        [
            *("--set", "real", "--data-root", str(root), "--onnx", str(MODEL), "--onnx-name", "model"),
            *("--size", "64", "--out", str(out), "--no-progress", "--sheet-cases", "2"),
        ]
    )
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    config = report["config"]
    assert config["set"] == "real" and config["hints"] == [0, 4, 16, PER_REGION]
    assert config["systems"] == ["model", "model + flat fill", "flood fill", "no hints"]  # flat fill on
    assert config["real"]["openmoji"]["cases"] == 2
    results = report["results"]
    assert list(results) == ["real: openmoji", "real: streamline", ALL_SET]
    for per_system in results.values():
        for per_count in per_system.values():
            assert list(per_count) == ["0", "4", "16", PER_REGION]
            for metrics in per_count.values():
                assert metrics["figure_de"] is not None and metrics["paper_de"] is not None
    assert results[ALL_SET]["flood fill"]["16"]["cases"] == 3
    # One hint per region: the openmoji pairs hold 2 + 1 hintable regions, streamline 2.
    assert results["real: openmoji"]["model"][PER_REGION]["hints"] == 3
    assert results[ALL_SET]["model"][PER_REGION]["hints"] == 5
    # Flood fill keeps the paper white (but for the lines' faint fringe, >= 250, that it leaves as
    # drawn); closed lines: exact with one hint per region.
    assert results[ALL_SET]["flood fill"]["0"]["paper_de"] < 0.1
    assert results["real: streamline"]["flood fill"][PER_REGION]["fidelity_median"] < 1.0
    table = (out / "report.md").read_text()
    assert "Paper stays paper" in table and "Figure error" in table and "1/region" in table
    for name, rows in (("real-openmoji", 2), ("real-streamline", 1)):
        sheet = cv2.imread(str(out / f"contact_sheet-{name}.png"))
        # lines | hints | result | flat fill | truth, 64 px each with 4 px gaps; a header, the rows.
        assert sheet is not None and sheet.shape[1] == 5 * 64 + 4 * 4
        assert sheet.shape[0] == 22 + rows * (64 + 4)
    assert not (out / "contact_sheet-real-all.png").exists()
