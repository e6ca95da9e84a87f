"""The performance targets (issues 6 and 15), evaluated on one report (all figures from the same run)."""

from __future__ import annotations

import math
import statistics
from typing import Any


def _best(rows: list[dict[str, Any]], target: str | None = None) -> float:
    """The best concurrency's throughput; under ``--repeat``, each concurrency's median over rounds."""
    mine = [r for r in rows if target is None or r.get("target") == target]
    medians = _rounds_median(mine, "images_per_s")
    return max(m for m, _ in medians.values()) if medians else math.nan


def _target(name: str, value: float, op: str, limit: float, detail: str) -> dict[str, Any]:
    if math.isnan(value):
        return {"name": name, "value": None, "limit": limit, "op": op, "met": None, "detail": "not measured"}
    met = value >= limit if op == ">=" else value <= limit
    return {"name": name, "value": round(value, 3), "limit": limit, "op": op, "met": met, "detail": detail}


def _rounds_median(rows: list[dict[str, Any]], key: str) -> dict[int, tuple[float, list[float]]]:
    """Per concurrency: the median of ``key`` over the rounds of ``rows`` (``--repeat``), and the values."""
    by: dict[int, list[float]] = {}
    for r in rows:
        by.setdefault(r["concurrency"], []).append(r[key])
    return {c: (statistics.median(v), v) for c, v in by.items()}


def _values(values: list[float]) -> str:
    if len(values) == 1:
        return ""
    return f" (median of {len(values)} rounds: {', '.join(f'{v:.2f}' for v in values)})"


def evaluate_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per target: name, measured value, the limit, met or not, and what was divided."""
    raw = report.get("raw", {})
    gateway = report.get("gateway", {})
    triton = report.get("triton", {})
    stages = report.get("stages", {})
    out = []

    raw_best = raw.get("best_images_per_s", math.nan)
    gw_rows = gateway.get("rows", [])
    # Each gateway row is compared with raw ORT timed right before and after it (same load); one
    # target per single-size load up to 512 px (issue 15: 256 and 512 px sketches).
    single = [w for w in gateway.get("workloads", []) if w.isdigit() and int(w) <= 512] or [""]
    for load in single:
        mine = [r for r in gw_rows if r.get("workload", "") == load]
        medians = _rounds_median(mine, "vs_raw")
        best = max(medians, key=lambda c: medians[c][0], default=None)
        row = next((r for r in mine if r["concurrency"] == best), None)
        out.append(
            _target(
                f"embedded gateway (best concurrency) / raw ORT (best batch) throughput, {load} px sketches",
                medians[best][0] if best is not None else math.nan,
                ">=",
                0.90,
                f"concurrency {best}: {row['images_per_s']:.2f} / {row['raw_ref_images_per_s']:.2f} "
                f"images/s (raw batch {row['raw_ref_batch']}, timed around the row)"
                + _values(medians[best][1])
                if row is not None and best is not None
                else "",
            )
        )

    via = _best(triton.get("rows", []), "gateway-triton")
    direct = _best(triton.get("rows", []), "triton-direct")
    out.append(
        _target(
            "gateway -> Triton / direct tritonclient throughput (best concurrency each)",
            via / direct,
            ">=",
            0.95,
            f"{via:.2f} / {direct:.2f} images/s",
        )
    )

    p50_load = "512" if "512" in single else single[-1]
    ones = [r for r in gw_rows if r["concurrency"] == 1 and r.get("workload", "") == p50_load]
    p50 = _rounds_median(ones, "p50_vs_raw_batch1").get(1)
    c1 = ones[0] if ones else None
    out.append(
        _target(
            f"gateway p50 at concurrency 1 / raw batch-1 latency, {p50_load} px sketches",
            p50[0] if p50 else math.nan,
            "<=",
            1.15,
            f"{c1['p50_ms']:.1f} ms / {c1['raw_ref_batch1_ms']:.1f} ms (raw timed around the row)"
            + _values(p50[1])
            if c1 and p50
            else "",
        )
    )

    out.append(
        _target(
            "model GFLOP/s (best batch) / measured ORT compute ceiling",
            raw.get("fraction_of_ceiling", math.nan),
            ">=",
            0.50,
            f"{raw.get('gflop_per_image', math.nan):.2f} GFLOP/image x {raw_best:.2f} images/s vs "
            f"{raw.get('ceiling_gflops', math.nan):.1f} GFLOP/s",
        )
    )

    exponents = stages.get("growth_exponent", {})
    worst = max((v for k, v in exponents.items() if k != "total"), default=math.nan)
    worst_stage = max(
        ((k, v) for k, v in exponents.items() if k != "total"), key=lambda kv: kv[1], default=("-", 0)
    )[0]
    out.append(
        _target(
            "stage cost growth exponent vs pixel count (worst stage; 1.0 = linear)",
            worst,
            "<=",
            1.0,
            f"worst {worst_stage}; total {exponents.get('total', math.nan):.2f}; a cost ~ pixels^k",
        )
    )

    ref = stages.get("reference_size", 2048)
    ref_canvas = stages.get("reference_canvas", 512)
    row = next((r for r in stages.get("rows", []) if r["size"] == ref), None)
    infer = stages.get("reference_inference_ms", math.nan)
    out.append(
        _target(
            f"(pre + post) for a {ref}x{ref} sketch / one inference on a {ref_canvas} canvas",
            row["pre_post_ms"] / infer if row else math.nan,
            "<=",
            0.25,
            f"{row['pre_post_ms']:.1f} ms (served canvas {stages.get('canvas')}) / {infer:.1f} ms, one "
            "thread, flat fill not included"
            if row
            else "",
        )
    )
    return out
