"""Writes one benchmark report as JSON (everything), Markdown (tables, targets) and a PNG plot."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any


def write_report(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """``bench.json``, ``bench.md`` and ``bench.png`` in ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "bench.json", "markdown": out_dir / "bench.md", "plot": out_dir / "bench.png"}
    profile = report.get("gateway", {}).get("profile")
    if profile and Path(profile["file"]).is_file():  # the stacks, next to the report
        paths["profile"] = out_dir / "gateway-profile.txt"
        shutil.copyfile(profile["file"], paths["profile"])
        profile["file"] = paths["profile"].name
    paths["json"].write_text(json.dumps(report, indent=2, default=_jsonable) + "\n")
    paths["markdown"].write_text(markdown(report))
    plot(report, paths["plot"])
    return paths


def _jsonable(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)


def _f(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _load(row: dict[str, Any]) -> str:
    """A load row's sketches, with its round under ``--repeat`` (rounds count from 1)."""
    name = row.get("workload") or "-"
    return f"{name}, round {row['round'] + 1}" if row.get("round") else name


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def markdown(report: dict[str, Any]) -> str:
    """The human-readable summary: machine, targets, then one table per mode."""
    m = report["machine"]
    parts = [
        "# colorizer bench\n",
        f"{report['created']} · {m['cpu_model']} · {m['usable_cores']} cores · flags "
        f"{' '.join(m['cpu_flags'])} · load average {m['load_average_at_start']} -> "
        f"{m.get('load_average_at_end')} · onnxruntime {report['versions'].get('onnxruntime')} · "
        f"model {report['model']['sha256_16']} {report['model']['metadata'].get('colorizer.preset', '')}\n",
        "## Targets (same run)\n",
        _table(
            ["target", "measured", "limit", "met", "from"],
            [
                [
                    t["name"],
                    _f(t["value"], 3),
                    f"{t['op']} {t['limit']}",
                    {True: "yes", False: "**no**", None: "-"}[t["met"]],
                    t["detail"],
                ]
                for t in report["targets"]
            ],
        ),
    ]
    raw = report.get("raw", {})
    if "rows" in raw:
        parts += [
            f"## raw ONNX Runtime ({raw['canvas']}x{raw['canvas']}, {raw['threads']} threads, "
            f"{raw['gflop_per_image']:.2f} GFLOP/image; ceiling {raw['ceiling_gflops']:.1f} GFLOP/s)\n",
            _table(
                ["batch", "images/s", "ms/image", "GFLOP/s", "of ceiling", "runs"],
                [
                    [
                        str(r["batch"]),
                        _f(r["images_per_s"], 2),
                        _f(r["ms_per_image"]),
                        _f(r["gflops"]),
                        _f(100 * r["gflops"] / raw["ceiling_gflops"], 0) + "%",
                        str(r["runs"]),
                    ]
                    for r in raw["rows"]
                ],
            ),
            "Ceiling graphs: "
            + ", ".join(f"{c['name']} {c['gflops']:.1f} GFLOP/s" for c in raw["ceiling"])
            + ".  Kernel time by op: "
            + ", ".join(f"{op} {100 * share:.1f}%" for op, share in list(raw["op_time_share"].items())[:5])
            + "\n",
        ]
    load_rows = [*report.get("gateway", {}).get("rows", []), *report.get("triton", {}).get("rows", [])]
    if load_rows:
        sketches = report.get("gateway", {}).get("sketches") or report.get("triton", {}).get("sketches")
        parts += [
            "## gRPC load (closed loop)\n",
            f"Sketches: {sketches or 'drawn by bench/workload.py'}; 8 dabs and a stroke each; PNG out "
            "at the original size; the load generator is its own process.\n",
            _table(
                [
                    "target",
                    "sketches px",
                    "concurrency",
                    "images/s",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "mean batch",
                    "server cores",
                    "server peak RSS MiB",
                    "errors",
                    "vs raw ORT (timed around the row)",
                ],
                [
                    [
                        r["target"],
                        _load(r),
                        str(r["concurrency"]),
                        _f(r["images_per_s"], 2),
                        _f(r["p50_ms"], 0),
                        _f(r["p95_ms"], 0),
                        _f(r["p99_ms"], 0),
                        _f(r["mean_batch"], 2),
                        _f(r["server_cores"], 2),
                        _f(r["server_peak_rss_mib"], 0),
                        str(r["sent"] - r["ok"]),
                        _f(r.get("vs_raw"), 2) + "x" if "vs_raw" in r else "-",
                    ]
                    for r in load_rows
                ],
            ),
        ]
    cpu_rows = [r for r in report.get("gateway", {}).get("rows", []) if r.get("stage_cpu_ms")]
    if cpu_rows:
        names = list(cpu_rows[0]["stage_cpu_ms"])
        parts += [
            "## Gateway CPU per image, ms (its own `colorizer_stage_cpu_seconds_total` per OK image; "
            "the rest of the process CPU is inference, gRPC and the event loop)\n",
            _table(
                ["sketches px", "concurrency", *names, "image threads", "whole process"],
                [
                    [
                        _load(r),
                        str(r["concurrency"]),
                        *(_f(r["stage_cpu_ms"][n], 1) for n in names),
                        _f(sum(r["stage_cpu_ms"].values()), 1),
                        _f(r["server_cpu_ms_per_image"], 0),
                    ]
                    for r in cpu_rows
                ],
            ),
        ]
    profile = report.get("gateway", {}).get("profile")
    if profile and profile["samples"]:
        threads = ", ".join(f"{k} {100 * v:.0f}%" for k, v in profile["threads"].items())
        parts += [
            f"## Where the gateway's CPU goes (py-spy, {profile['samples']} samples of its Python "
            "threads over the whole gateway mode; `gateway-profile.txt` holds the stacks)\n",
            f"Samples by thread: {threads}. ONNX Runtime's own pool threads are not Python threads: "
            "the model's share is the `onnxruntime` thread that waits in `Session.run`.\n",
            _table(
                ["function (self time)", "file", "share of samples"],
                [
                    [f"`{x['function']}`", x["file"], _f(100 * x["share"], 1) + "%"]
                    for x in profile["self_time"]
                ],
            ),
        ]
    for mode in ("gateway", "triton"):
        if "skipped" in report.get(mode, {}):
            parts.append(f"Mode {mode} skipped: {report[mode]['skipped']}\n")
    stages = report.get("stages", {})
    if "rows" in stages:
        names = list(stages["rows"][0]["ms"])
        parts += [
            f"## Image stages, ms per image (one thread; inference = the {stages['canvas']}px canvas, "
            f"batch 1; one inference on a {stages.get('reference_canvas', '-')} px canvas: "
            f"{_f(stages.get('reference_inference_ms'))} ms; sketch: {stages.get('sketch', 'drawn')}; "
            f"malloc keeping freed memory as the gateway does: "
            f"{'yes' if stages.get('malloc_keep_freed') else 'no'})\n",
            _table(
                ["sketch px", *names, "pre+post", "inference", "pre+post / inference", "flat fill (opt-in)"],
                [
                    [
                        str(r["size"]),
                        *(_f(r["ms"][n], 2) for n in names),
                        _f(r["pre_post_ms"], 2),
                        _f(r["inference_ms"]),
                        _f(100 * r["pre_post_over_inference"], 1) + "%",
                        _f(r.get("flat_fill_ms", float("nan")), 2),
                    ]
                    for r in stages["rows"]
                ],
            ),
            "Growth exponent k (cost ~ pixels^k, log-log fit over all sizes): "
            + ", ".join(f"{k} {_f(v, 2)}" for k, v in stages["growth_exponent"].items())
            + "\n",
        ]
    if stages.get("flat_fill"):
        parts += [
            "## Flat fill, ms per page (OpenCV on one thread)\n",
            _table(
                ["page (w x h)", "hints", "regions + fill", "hint layer", "hint pixels visited"],
                [
                    [
                        f"{r['width']} x {r['height']}",
                        r["label"] or "8 dabs, 1 stroke",
                        _f(r["regions_ms"]),
                        _f(r["hint_layer_ms"]),
                        f"{r['hint_pixels']:,}",
                    ]
                    for r in stages["flat_fill"]
                ],
            ),
        ]
    int8 = report.get("int8", {})
    if "speedup" in int8:
        q = int8["quality_vs_fp32_8bit_levels"]
        parts += [
            "## INT8 variant\n",
            f"{int8['method']}.\n",
            _table(
                ["batch", "fp32 images/s", "int8 images/s", "speedup"],
                [
                    [
                        b,
                        _f(int8["images_per_s"]["fp32"][b], 2),
                        _f(int8["images_per_s"]["int8"][b], 2),
                        _f(s, 2) + "x",
                    ]
                    for b, s in int8["speedup"].items()
                ],
            ),
            f"Difference from FP32 on 4 held-out sketches, in 8-bit levels: max {q['max_abs']:.2f}, "
            f"mean {q['mean_abs']:.3f}, share > 8 levels {100 * q['over_8_levels']:.2f}%.\n",
        ]
    return "\n".join(parts)


def plot(report: dict[str, Any], path: Path) -> None:
    """Throughput and p50/p95/p99 latency against concurrency (raw ORT as reference lines)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [*report.get("gateway", {}).get("rows", []), *report.get("triton", {}).get("rows", [])]
    rows = [r for r in rows if not r.get("round")]  # --repeat: the first round's curves
    fig, (ax_t, ax_l) = plt.subplots(1, 2, figsize=(12, 4.5))
    series = sorted({(r["target"], r.get("workload", "")) for r in rows})
    for i, (name, load) in enumerate(series):
        target = f"{name} {load} px" if load else name
        mine = sorted(
            (r for r in rows if (r["target"], r.get("workload", "")) == (name, load)),
            key=lambda r: r["concurrency"],
        )
        xs = [r["concurrency"] for r in mine]
        color = f"C{i}"
        ax_t.plot(xs, [r["images_per_s"] for r in mine], "o-", color=color, label=target)
        for q, style in (("p50", "o-"), ("p95", "s--"), ("p99", "^:")):
            ax_l.plot(xs, [r[f"{q}_ms"] for r in mine], style, color=color, label=f"{target} {q}")
    raw = report.get("raw", {})
    if "best_images_per_s" in raw:
        ax_t.axhline(
            raw["best_images_per_s"], color="k", ls="--", label=f"raw ORT, best batch ({raw['best_batch']})"
        )
        ax_t.axhline(0.9 * raw["best_images_per_s"], color="grey", ls=":", label="0.90 x raw")
        ax_l.axhline(raw["batch1_ms"], color="k", ls="--", label="raw ORT batch 1")
    for ax in (ax_t, ax_l):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.grid(True, alpha=0.3)
    ax_t.set_ylabel("images / s")
    ax_t.set_ylim(bottom=0)
    ax_l.set_ylabel("latency, ms")
    ax_l.set_yscale("log")
    ax_t.legend(fontsize=7)
    ax_l.legend(fontsize=6, ncol=2)
    m = report["machine"]
    fig.suptitle(f"colorizer gateway on {m['usable_cores']} cores ({m['cpu_model']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
