"""``colorizer eval --quick`` end to end: a tiny checkpoint and its ONNX export, flood fill, no hints."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from colorizer.eval import eval_cmd
from colorizer.eval.cases import synthetic_case
from colorizer.eval.systems import (
    KeepPaperSystem,
    OnnxSystem,
    SpreadHintsSystem,
    TorchSystem,
    load_torch_model,
)
from colorizer.imaging.paper import page_mask
from colorizer.imaging.spread import spread_hints

METRICS = {
    "fidelity_median",
    "fidelity_mean",
    "fidelity_within_10",
    "hints",
    "bleeding",
    "bleeding_eligible_px",
    "leak_share",
    "flat_std",
    "unhinted_de",
    "figure_de",
    "paper_de",
    "psnr",
    "ssim",
    "cases",
}


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    eval_cmd.add_arguments(parser)
    return eval_cmd.run(parser.parse_args(argv))


def _export(checkpoint: Path, path: Path) -> Path:
    model, _ = load_torch_model(checkpoint)
    args = (torch.zeros(1, 1, 64, 64), torch.zeros(1, 4, 16, 16))
    # The legacy exporter takes ~0.4 s here against ~20 s for the dynamo one the export stage uses.
    torch.onnx.export(
        model, args, str(path), input_names=["sketch", "hint"], output_names=["color"], dynamo=False
    )
    return path


def test_quick_eval_writes_the_report(tiny_checkpoint: Path, tmp_path: Path) -> None:
    onnx = _export(tiny_checkpoint, tmp_path / "tiny.onnx")
    out = tmp_path / "report"
    rc = _run(
        [
            "--quick",
            "--onnx",
            str(onnx),
            "--onnx-name",
            "model (ONNX)",
            "--checkpoint",
            f"torch={tiny_checkpoint}",
            "--flat-fill",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["hints"] == [0, 4, 16]
    systems = ["model (ONNX)", "model (ONNX) + flat fill", "torch", "flood fill", "no hints"]
    assert report["config"]["systems"] == systems
    assert list(report["results"]) == ["synthetic", "synthetic, 4 line gaps"]
    for per_system in report["results"].values():
        assert list(per_system) == systems
        for per_count in per_system.values():
            assert list(per_count) == ["0", "4", "16"]
            assert all(set(m) == METRICS for m in per_count.values())
            assert per_count["0"]["fidelity_median"] is None and per_count["16"]["hints"] == 3 * 16
            assert per_count["16"]["cases"] == 3
    res = report["results"]["synthetic"]
    # The ONNX file and its checkpoint are the same model: the same figures.
    assert abs(res["model (ONNX)"]["16"]["psnr"] - res["torch"]["16"]["psnr"]) < 0.05
    # Flood fill on closed lines follows its hints almost exactly; the untrained model does not.
    assert res["flood fill"]["16"]["fidelity_median"] < 2.0 < res["torch"]["16"]["fidelity_median"]
    # Flat fills paint hinted regions in the hints' colors: as faithful as flood fill on closed lines.
    assert res["model (ONNX) + flat fill"]["16"]["fidelity_median"] < 2.0
    table = (out / "report.md").read_text()
    assert "Q1 hint fidelity" in table and "| flood fill |" in table
    sheet = cv2.imread(str(out / "contact_sheet-synthetic.png"))
    assert sheet is not None and sheet.shape[1] > 64 * (2 + len(systems) + 1)


def test_onnx_and_torch_systems_agree(tiny_checkpoint: Path, tmp_path: Path) -> None:
    onnx = _export(tiny_checkpoint, tmp_path / "tiny.onnx")
    case = synthetic_case(0, 64)
    a = OnnxSystem(onnx).colorize(case.sketch, case.hint_map(4))
    b = TorchSystem(tiny_checkpoint).colorize(case.sketch, case.hint_map(4))
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    assert _run(["--quick", "--onnx", str(tmp_path / "missing.onnx")]) == 2
    assert _run(["--quick", "--hints", "0,x"]) == 2
    assert _run(["--quick", "--seed", "0"]) == 2


def test_real_contact_sheets_show_every_model_and_its_flat_fill(tiny_checkpoint: Path) -> None:
    """One model: ``result | flat fill``; several: each model and its flat fill, by name; the
    baselines (flood fill, no hints) are never columns."""
    from colorizer.eval.systems import FlatFillSystem, FloodFillSystem, NoHintsSystem, System, sheet_columns

    a, b = TorchSystem(tiny_checkpoint, name="old"), TorchSystem(tiny_checkpoint, name="new")
    one: list[System] = [a, FlatFillSystem(a), FloodFillSystem(), NoHintsSystem(a, "no hints")]
    assert sheet_columns(one) == ([a.name, one[1].name], ["result", "flat fill"])
    two: list[System] = [a, FlatFillSystem(a), b, FlatFillSystem(b), *one[2:]]
    names, titles = sheet_columns(two)
    assert names == ["old", "old + flat fill", "new", "new + flat fill"] and titles is None


def test_keep_paper_both_runs_each_model_as_given_and_with_its_page_white(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    args = ["--quick", "--checkpoint", f"torch={tiny_checkpoint}", "--spread-hints", "8"]
    args += ["--keep-paper", "both"]
    assert _run([*args, "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    spread = "torch, hints spread 8"
    assert report["config"]["systems"] == [spread, f"{spread}, paper kept", "flood fill", "no hints"]
    assert report["results"]["synthetic"][f"{spread}, paper kept"]["16"]["cases"] == 3

    class Black:  # a model that paints everything black
        name, uses_hints = "black", True

        def colorize(self, sketch: np.ndarray, hint: np.ndarray) -> np.ndarray:
            return np.zeros((*sketch.shape, 3), np.uint8)

    case = synthetic_case(0, 64)
    got = KeepPaperSystem(Black()).colorize(case.sketch, case.hint_map(16))
    page = page_mask(case.sketch, case.hint_map(16))
    assert page.any() and (got[page] == 255).all() and (got[~page] == 0).all()


def test_spread_hints_adds_each_model_as_the_gateway_feeds_it(tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = ["--quick", "--checkpoint", f"torch={tiny_checkpoint}", "--spread-hints", "0,8", "--out", str(out)]
    assert _run([*args, "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["systems"] == ["torch", "torch, hints spread 8", "flood fill", "no hints"]
    assert report["results"]["synthetic"]["torch, hints spread 8"]["16"]["cases"] == 3

    class Seen:  # records the hint map a model is given
        name, uses_hints = "seen", True

        def colorize(self, sketch: np.ndarray, hint: np.ndarray) -> np.ndarray:
            self.hint = hint
            return np.zeros((*sketch.shape, 3), np.uint8)

    case, seen = synthetic_case(0, 64), Seen()
    SpreadHintsSystem(seen, 8).colorize(case.sketch, case.hint_map(16))
    np.testing.assert_array_equal(seen.hint, spread_hints(case.hint_map(16), case.sketch, 8))
    assert seen.hint[3].sum() > case.hint_map(16)[3].sum()  # grown over the closed shapes
    assert _run(["--quick", "--checkpoint", str(tiny_checkpoint), "--spread-hints", "-1"]) == 2
