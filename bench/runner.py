"""Runs the benchmark modes in one process and collects one report dict (no printing here).

Every compared pair is measured in this one run: raw ORT and the compute ceiling, the embedded
gateway, gateway -> Triton and direct tritonclient, the image stages, FP32 and INT8.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import machine
from bench.targets import evaluate_targets

logger = logging.getLogger("bench")

MODES = ("raw", "gateway", "triton", "stages", "int8")


@dataclass(frozen=True)
class BenchConfig:
    """Sizes, levels and time budgets of one run (``quick`` shrinks all of them)."""

    model_repository: Path
    canvas: int
    threads: int
    modes: tuple[str, ...] = MODES
    batches: tuple[int, ...] = (1, 2, 4, 8, 16)
    raw_budget_s: float = 30.0
    ceiling_quick: bool = False
    concurrencies: tuple[int, ...] = (1, 8, 32)
    #: The gateway mode's loads, each a set of square sketch sides sent in turn (issue 15: users
    #: send 256-2048 px pages; the model canvas is the gateway's choice).
    gateway_workloads: tuple[tuple[int, ...], ...] = ((256,), (512,), (256, 512, 1024, 2048))
    #: Loads sent again with ``output.flat_fill`` on (what it costs through the gateway).
    flat_fill_workloads: tuple[tuple[int, ...], ...] = ((512,),)
    triton_concurrencies: tuple[int, ...] = (4, 16)
    row_s: float = 12.0
    #: Seconds of raw ORT timing around each gateway row (its same-load reference).
    bracket_s: float = 4.0
    sketch_size: int = 512
    stage_sizes: tuple[int, ...] = (256, 512, 1024, 2048)
    stage_budget_s: float = 0.5
    #: The canvas whose one inference the pre+post cost of the largest sketch is compared with.
    reference_canvas: int = 512
    #: Flat-fill page sizes (height, width), and whether to time the heaviest stroke too.
    flat_sizes: tuple[tuple[int, int], ...] = ((2048, 2048), (2700, 3000))
    flat_heavy: bool = True
    gateway_env: dict[str, str] = field(default_factory=dict)
    #: Run the embedded gateway under py-spy (:mod:`bench.profile`): where its CPU goes.
    profile: bool = False
    #: Rounds of the gateway and triton modes' rows (one after another); targets take medians.
    repeat: int = 1

    @classmethod
    def make(
        cls,
        model_repository: Path,
        canvas: int,
        *,
        quick: bool,
        modes: tuple[str, ...],
        profile: bool = False,
        repeat: int = 1,
    ) -> BenchConfig:
        """The default (about 5 minutes on 2 cores) or the quick (seconds) configuration."""
        threads = os.cpu_count() or 1
        env = {
            "model_repository": str(model_repository),
            "input_size": str(canvas),
            "log_level": "WARNING",
            # As large as the model's config allows (16), so the gateway can batch as raw ORT's best.
            "max_batch_size": "16",
        }
        if not quick:
            return cls(
                model_repository, canvas, threads, modes, gateway_env=env, profile=profile, repeat=repeat
            )
        return cls(
            model_repository,
            canvas,
            threads,
            modes,
            batches=(1, 2),
            raw_budget_s=0.5,
            ceiling_quick=True,
            concurrencies=(1, 4),
            gateway_workloads=((canvas,),),
            flat_fill_workloads=(),
            triton_concurrencies=(2,),
            row_s=1.0,
            sketch_size=canvas,
            stage_sizes=(64, 128),
            stage_budget_s=0.02,
            reference_canvas=canvas,
            flat_sizes=((64, 96),),
            flat_heavy=False,
            gateway_env=env,
            profile=profile,
            repeat=repeat,
        )


def model_path(repository: Path) -> Path:
    """The highest version's model.onnx, as the embedded backend picks it."""
    from colorizer import contract
    from service.backends.embedded import find_model

    return find_model(repository, contract.MODEL_NAME)[0]


def run_bench(cfg: BenchConfig, workdir: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    """Run the configured modes; returns the report (see :func:`bench.report.write_report`)."""
    path = model_path(cfg.model_repository)
    report: dict[str, Any] = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine.machine_info(),
        "versions": machine.versions(),
        "model": machine.model_info(path),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(cfg).items()},
    }
    steps: dict[str, Callable[[BenchConfig, Path, Path], dict[str, Any]]] = {
        "raw": _raw,
        "gateway": _gateway,
        "triton": _triton,
        "stages": _stages,
        "int8": _int8,
    }
    for mode in cfg.modes:
        progress(f"mode {mode}")
        started = time.perf_counter()
        try:
            if mode == "gateway":
                report[mode] = _gateway(cfg, path, workdir, report.get("raw", {}).get("best_batch", 0))
            else:
                report[mode] = steps[mode](cfg, path, workdir)
        except _Skipped as skip:
            report[mode] = {"skipped": str(skip)}
        report[mode]["mode_wall_s"] = round(time.perf_counter() - started, 1)
    report["machine"]["load_average_at_end"] = machine.load_average()
    report["targets"] = evaluate_targets(report)
    return report


class _Skipped(Exception):
    """A mode that cannot run here (e.g. no Triton environment); recorded, not fatal."""


def _raw(cfg: BenchConfig, path: Path, _work: Path) -> dict[str, Any]:
    from bench.ceiling import CeilingResult, ceiling_cases
    from bench.flops import conv_gflops_onnx
    from bench.raw import make_session, measure_batches, op_profile
    from bench.timing import median
    from service.backends.embedded import session_options

    gflop = conv_gflops_onnx(path, cfg.canvas, cfg.canvas)
    ceilings = ceiling_cases(lambda: session_options(cfg.threads), quick=cfg.ceiling_quick)
    # The ceiling graphs run in the same interleaved rounds as the model's batches.
    rows_by, extra = measure_batches(
        {"model": make_session(path, cfg.threads)},
        cfg.canvas,
        cfg.batches,
        budget_s=cfg.raw_budget_s,
        extra={name: fn for name, fn, _ in ceilings},
    )
    rows = rows_by["model"]
    ceiling = [CeilingResult(name, g, median(extra[name])) for name, _, g in ceilings]
    best = max(rows, key=lambda r: r.images_per_s)
    profile = op_profile(path, cfg.threads, cfg.canvas, best.batch)
    ceiling_gflops = max(c.gflops for c in ceiling)
    return {
        "canvas": cfg.canvas,
        "threads": cfg.threads,
        "gflop_per_image": gflop,
        "rows": [
            {
                "batch": r.batch,
                "runs": r.runs,
                "images_per_s": r.images_per_s,
                "ms_per_image": r.ms_per_image,
                "gflops": gflop * r.images_per_s,
            }
            for r in rows
        ],
        "best_batch": best.batch,
        "best_images_per_s": best.images_per_s,
        "batch1_ms": next((r.ms_per_image for r in rows if r.batch == 1), math.nan),
        "ceiling": [
            {"name": c.name, "gflop": c.gflop, "seconds": c.seconds, "gflops": c.gflops} for c in ceiling
        ],
        "ceiling_gflops": ceiling_gflops,
        "fraction_of_ceiling": gflop * best.images_per_s / ceiling_gflops,
        "op_time_share": profile,
    }


def _requests(cfg: BenchConfig, line_art: list[Any]) -> tuple[list[Any], list[Any]]:
    from bench import workload

    samples = workload.samples(cfg.sketch_size, 8, line_art)
    return samples, [workload.to_request(s, f"bench-{i}") for i, s in enumerate(samples)]


def _sketches(line_art: list[Any]) -> str:
    if not line_art:
        return "drawn by bench/workload.py (data/real not prepared: `make data`)"
    return f"human-drawn: {len(line_art)} line arts of data/real's test split, scaled to each size"


def _gateway(cfg: BenchConfig, path: Path, work: Path, raw_best_batch: int = 0) -> dict[str, Any]:
    from bench import workload
    from bench.gateway import running_gateway, sweep
    from bench.raw import make_session, measure_batches

    env = {**cfg.gateway_env, "backend": "embedded"}
    # Raw ORT brackets every row (measured just before and after it, in this process while the
    # gateway idles), so each row has a reference taken under the same background load.
    session = make_session(path, cfg.threads)
    ref_batch = raw_best_batch or max(cfg.batches)
    ref_batches = sorted({1, ref_batch})

    def bracket() -> dict[int, float]:
        rows, _ = measure_batches(
            {"raw": session}, cfg.canvas, ref_batches, budget_s=cfg.bracket_s, min_runs=2
        )
        return {r.batch: r.batch_s for r in rows["raw"]}

    rows = []
    line_art = workload.real_line_art(8)
    loads = [
        (workload.label(sizes) + (" flat fill" if flat else ""), workload.samples(sizes, 8, line_art), flat)
        for sizes, flat in (
            *((sizes, False) for sizes in cfg.gateway_workloads),
            *((sizes, True) for sizes in cfg.flat_fill_workloads),
        )
    ]
    profile = work / "gateway-profile.txt" if cfg.profile else None
    with running_gateway(env, work / "gateway-embedded.log", profile) as gw:
        before = bracket()
        rounds = range(cfg.repeat)
        for rnd, name, samples, flat, c in (
            (i, n, s, f, c) for i in rounds for n, s, f in loads for c in cfg.concurrencies
        ):
            requests = [workload.to_request(s, f"bench-{i}", flat_fill=flat) for i, s in enumerate(samples)]
            (row,) = sweep(gw, requests, [c], duration_s=cfg.row_s, target="gateway-embedded", workload=name)
            after = bracket()
            ref = {b: (before[b] + after[b]) / 2 for b in ref_batches}
            rows.append(
                {
                    **row.as_dict(),
                    "raw_ref_batch": ref_batch,
                    "raw_ref_images_per_s": ref_batch / ref[ref_batch],
                    "raw_ref_batch1_ms": 1000 * ref[1],
                    "vs_raw": row.images_per_s * ref[ref_batch] / ref_batch,
                    "p50_vs_raw_batch1": row.p50_ms / (1000 * ref[1]),
                    "round": rnd,
                }
            )
            before = after
    result: dict[str, Any] = {
        "settings": env,
        "sketches": _sketches(line_art),
        "workloads": [name for name, _, _ in loads],
        "rows": rows,
    }
    if profile is not None:
        from bench.profile import summarize

        result["profile"] = {**summarize(profile).as_dict(), "file": str(profile)}
    return result


def _triton(cfg: BenchConfig, _path: Path, work: Path) -> dict[str, Any]:
    from bench import workload
    from bench.gateway import running_gateway, sweep
    from bench.triton_direct import direct_sweep
    from export.triton_local import LocalTriton, TritonError

    line_art = workload.real_line_art(8)
    samples, requests = _requests(cfg, line_art)
    try:
        triton = LocalTriton(cfg.model_repository, workdir=work / "triton")
    except TritonError as exc:
        raise _Skipped(str(exc)) from exc
    rows: list[dict[str, Any]] = []
    with triton:
        env = {**cfg.gateway_env, "backend": "triton", "triton_url": triton.grpc_url}
        with running_gateway(env, work / "gateway-triton.log") as gw:
            # A-B then B-A order over the levels, so drifting background load hits both sides alike;
            # --repeat: that many rounds of it.
            levels = [(rnd, c) for rnd in range(cfg.repeat) for c in cfg.triton_concurrencies]
            for i, (rnd, c) in enumerate(levels):
                pair = [
                    lambda c=c: sweep(gw, requests, [c], duration_s=cfg.row_s, target="gateway-triton"),
                    lambda c=c: direct_sweep(
                        triton.grpc_url,
                        samples,
                        [c],
                        canvas=cfg.canvas,
                        duration_s=cfg.row_s,
                        workers=cfg.threads,
                    ),
                ]
                for run in pair if i % 2 == 0 else pair[::-1]:
                    rows.extend({**r.as_dict(), "round": rnd} for r in run())
    return {
        "settings": {k: v for k, v in env.items() if k != "triton_url"},
        "sketches": _sketches(line_art),
        "rows": rows,
    }


def _stages(cfg: BenchConfig, path: Path, _work: Path) -> dict[str, Any]:
    from bench import workload
    from bench.stages import growth_exponents, inference_ms, measure_flat_fill, measure_stages
    from service.allocator import keep_freed_memory
    from service.settings import Settings

    # The stages as the gateway runs them: with its allocator setting (COLORIZER_MALLOC_KEEP_FREED).
    kept = Settings().malloc_keep_freed and keep_freed_memory()
    rows = measure_stages(path, cfg.canvas, cfg.stage_sizes, threads=cfg.threads, budget_s=cfg.stage_budget_s)
    flat = measure_flat_fill(cfg.flat_sizes, budget_s=cfg.stage_budget_s, heavy=cfg.flat_heavy)
    return {
        "flat_fill": [r.as_dict() for r in flat],
        "malloc_keep_freed": kept,
        "canvas": cfg.canvas,
        "rows": [r.as_dict() for r in rows],
        # The pre+post share target (issue 15) is read at the largest sketch against one
        # inference on the reference canvas (512; the quick run's canvas).
        "reference_size": max(cfg.stage_sizes),
        "sketch": _sketches(workload.real_line_art(1)),
        "reference_canvas": cfg.reference_canvas,
        "reference_inference_ms": inference_ms(
            path, cfg.reference_canvas, threads=cfg.threads, budget_s=4 * cfg.stage_budget_s
        ),
        "growth_exponent": growth_exponents(rows),
    }


def _int8(cfg: BenchConfig, path: Path, work: Path) -> dict[str, Any]:
    from bench.quant import compare_outputs, gateway_feeds, quantize_int8
    from bench.raw import make_session, measure_batches

    calibration = gateway_feeds(cfg.sketch_size, cfg.canvas, range(8))
    int8_path = quantize_int8(path, work / "int8" / "model.onnx", calibration)
    sessions = {"fp32": make_session(path, cfg.threads), "int8": make_session(int8_path, cfg.threads)}
    quality = compare_outputs(
        sessions["fp32"], sessions["int8"], gateway_feeds(cfg.sketch_size, cfg.canvas, range(100, 104))
    )
    batches = tuple(b for b in (1, 8) if b <= max(cfg.batches)) or (1,)
    rows, _ = measure_batches(sessions, cfg.canvas, batches, budget_s=cfg.raw_budget_s / 2)
    ips = {name: {str(r.batch): r.images_per_s for r in rs} for name, rs in rows.items()}
    return {
        "method": "onnxruntime.quantization static QDQ, per-channel int8 weights, uint8 activations, "
        "MinMax calibration on 8 gateway-encoded sketches",
        "file": str(int8_path),
        "images_per_s": ips,
        "speedup": {str(b): ips["int8"][str(b)] / ips["fp32"][str(b)] for b in batches},
        "quality_vs_fp32_8bit_levels": quality.as_dict(),
    }
