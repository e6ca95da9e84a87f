"""``colorizer bench --quick`` on the tiny model: report files and structure (never timings)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import BENCH_TEST_SIZE

from colorizer.cli import main

TARGET_NAMES = 6


def test_quick_bench_writes_a_complete_report(tiny_repository: Path, tmp_path: Path) -> None:
    out = tmp_path / "perf"
    code = main(
        [
            "bench",
            "--quick",
            "--out",
            str(out),
            "--modes",
            "raw,gateway,stages,int8",
            "--model-repository",
            str(tiny_repository),
            "--input-size",
            str(BENCH_TEST_SIZE),
            "--workdir",
            str(tmp_path / "work"),
            "--profile",
            "--repeat",
            "2",
        ]
    )
    assert code == 0
    report = json.loads((out / "bench.json").read_text())
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (out / "bench.md").read_text()
    assert "## Targets" in markdown and "## raw ONNX Runtime" in markdown
    assert "## Flat fill, ms per page" in markdown

    assert report["machine"]["usable_cores"] >= 1 and "cpu_flags" in report["machine"]
    assert "onnxruntime" in report["versions"]
    assert report["model"]["sha256_16"]

    raw = report["raw"]
    assert [r["batch"] for r in raw["rows"]] == [1, 2]
    assert raw["gflop_per_image"] > 0 and raw["ceiling_gflops"] > 0
    assert raw["fraction_of_ceiling"] > 0 and raw["op_time_share"]["Conv"] > 0

    rows = report["gateway"]["rows"]
    assert [(r["round"], r["concurrency"]) for r in rows] == [(0, 1), (0, 4), (1, 1), (1, 4)]
    for r in rows:
        assert r["ok"] > 0 and r["codes"].get("OK") == r["ok"]
        assert r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]
        assert r["mean_batch"] >= 1 and r["server_peak_rss_mib"] > 0

    # The gateway ran under the real py-spy: its stacks came back and were read.
    profile = report["gateway"]["profile"]
    assert profile["samples"] > 0 and (out / profile["file"]).is_file()
    assert abs(sum(profile["threads"].values()) - 1) < 1e-6 and profile["self_time"]
    assert "Where the gateway's CPU goes" in markdown

    stages = report["stages"]
    assert [r["size"] for r in stages["rows"]] == [64, 128]
    assert set(stages["rows"][0]["ms"]) == {"decode", "normalize", "hint_map", "postprocess", "encode"}
    assert "total" in stages["growth_exponent"] and "flat_fill" in stages["growth_exponent"]
    assert all(r["flat_fill_ms"] > 0 for r in stages["rows"])
    assert stages["reference_size"] == 128 and stages["reference_inference_ms"] > 0
    assert [(r["height"], r["width"]) for r in stages["flat_fill"]] == [(64, 96)]
    assert stages["flat_fill"][0]["regions_ms"] > 0 and stages["flat_fill"][0]["hint_pixels"] > 0

    int8 = report["int8"]
    assert set(int8["speedup"]) == {"1"}
    assert int8["quality_vs_fp32_8bit_levels"]["max_abs"] >= 0

    assert len(report["targets"]) == TARGET_NAMES
    # --repeat 2: the gateway targets are medians of the two rounds, and say so.
    gateway_targets = [
        t for t in report["targets"] if t["name"].startswith(("embedded gateway", "gateway p50"))
    ]
    assert gateway_targets and all("median of 2 rounds" in t["detail"] for t in gateway_targets)
    measured = {t["name"]: t for t in report["targets"]}
    assert all(t["value"] is not None for n, t in measured.items() if "Triton" not in n)
    assert any(t["value"] is None for n, t in measured.items() if "Triton" in n)
