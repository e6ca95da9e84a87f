"""``colorizer bench --quick --modes triton`` against a real local Triton: both rows, no errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BENCH_TEST_SIZE

from colorizer.cli import main

pytestmark = [pytest.mark.triton, pytest.mark.slow]


def test_quick_triton_mode_compares_gateway_and_direct(tiny_repository: Path, tmp_path: Path) -> None:
    out = tmp_path / "perf"
    args = ["bench", "--quick", "--out", str(out), "--modes", "triton", "--repeat", "2"]
    args += ["--model-repository", str(tiny_repository), "--input-size", str(BENCH_TEST_SIZE)]
    assert main([*args, "--workdir", str(tmp_path / "work")]) == 0
    triton = json.loads((out / "bench.json").read_text())["triton"]
    assert "skipped" not in triton, triton.get("skipped")
    rows = triton["rows"]
    # --repeat 2: both sides in each of two rounds.
    assert sorted((r["round"], r["target"]) for r in rows) == [
        (0, "gateway-triton"),
        (0, "triton-direct"),
        (1, "gateway-triton"),
        (1, "triton-direct"),
    ]
    assert all(r["ok"] > 0 and r["ok"] == r["sent"] for r in rows)
    target = next(t for t in json.loads((out / "bench.json").read_text())["targets"] if "Triton" in t["name"])
    assert target["value"] is not None
