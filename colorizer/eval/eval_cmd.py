"""Measure colorization quality (hint fidelity, bleeding, PSNR/SSIM, unhinted regions) vs the number of hints.

Systems side by side: the served ONNX model (``--onnx``), any checkpoints (``--checkpoint``, the
SGRU generator or the plain U-Net), the flood-fill baseline, and the first model without hints.
Cases: the held-out synthetic set (region labels as ground truth), or ``--images DIR`` (lines
extracted as in training, regions from the line components); each also with line gaps punched
in. Or ``--set real``: the test split of the human-drawn line art ``make data`` prepares under
``--data-root`` (:mod:`colorizer.eval.real`), per source and all together, flat fill on. Writes
OUT/report.json, OUT/report.md and OUT/contact_sheet-*.png. See docs/QUALITY.md.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

#: Served model used when no system is named.
DEFAULT_ONNX = Path("model_repository/colorizer/1/model.onnx")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``colorizer eval``."""
    parser.add_argument(
        "--onnx", type=Path, help=f"served ONNX model (default when no model is given: {DEFAULT_ONNX})"
    )
    parser.add_argument("--onnx-name", help="its name in the tables (default: ONNX step N)")
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="[NAME=]PATH",
        help="a training checkpoint or model file (repeatable)",
    )
    parser.add_argument(
        "--set",
        choices=("synthetic", "real"),
        default="synthetic",
        help="synthetic: the held-out procedural set (default); real: the test split of the "
        "human-drawn line art under --data-root (make data)",
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=Path("data/real"),
        help="--set real: the prepared data, ROOT/SOURCE/{manifest.json,lines,color} (default data/real)",
    )
    parser.add_argument("--sources", help="--set real: comma-separated sources (default: every prepared one)")
    parser.add_argument(
        "--limit", type=int, help="--set real: at most N test pairs per source (a fixed choice; --quick: 3)"
    )
    parser.add_argument("--images", type=Path, help="folder of color images instead of the synthetic set")
    parser.add_argument("--count", type=int, help="synthetic cases (default 48; --quick: 3)")
    parser.add_argument("--size", type=int, help="square side, multiple of 16 (default 256; --quick: 64)")
    parser.add_argument(
        "--hints",
        help="hint counts; 'region' is one hint per hintable region of each case "
        "(default 0,1,4,16,64, --set real 0,4,16,region; --quick: 0,4,16, --set real 0,4,region)",
    )
    parser.add_argument(
        "--gaps",
        type=int,
        help="holes punched into each sketch's lines for the line-gap set "
        "(0: no such set; default 12; --quick: 4; with --set real, the holes per case of "
        "--gap-widths, else real line art keeps its own gaps)",
    )
    parser.add_argument(
        "--gap-widths",
        help="--set real: comma-separated widths in px (e.g. 3,7,15); per width, every source's cases "
        "again with --gaps holes (default 12) of that width punched into the lines",
    )
    parser.add_argument("--seed", type=int, help="synthetic series seed (default: the held-out one)")
    parser.add_argument("--out", type=Path, default=Path("runs/eval/report"), help="output folder")
    parser.add_argument("--sheet-cases", type=int, help="cases on the contact sheet (default 4; --quick: 2)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for the models")
    parser.add_argument(
        "--gap-radius",
        type=int,
        default=3,
        help="radius in px of each punched line gap (default 3: 7 px wide)",
    )
    parser.add_argument(
        "--flat-fill",
        action="store_true",
        help="also evaluate the first model with flat fills (the gateway's output.flat_fill; "
        "with --set real every model's flat fill is always evaluated)",
    )
    parser.add_argument(
        "--flat-fill-gap",
        type=int,
        default=15,
        help="gap closing of those flat fills: line ends joined up to this many px at a 1000 px "
        "long side (COLORIZER_FLAT_FILL_GAP_PX; default 15)",
    )
    parser.add_argument(
        "--canvas",
        help="comma-separated canvas sides: run each model the gateway's way on a canvas of that "
        "size (the sketch of --size fitted to it), its colors brought back to --size by a plain "
        "resize and by the line-guided upsampler, side by side (e.g. --size 2048 --canvas 256,512)",
    )
    parser.add_argument(
        "--spread-hints",
        help="comma-separated step counts: run each model with its hints spread that many cells "
        "over their closed regions first, as the gateway does (COLORIZER_HINT_SPREAD_CELLS; e.g. "
        "8); 0 in the list = also the hints as given (0,8: both ways)",
    )
    parser.add_argument(
        "--keep-paper",
        choices=("off", "on", "both"),
        default="off",
        help="the unhinted regions reaching the canvas border made white after the model, as the "
        "gateway does (COLORIZER_KEEP_PAPER): on = every model so, both = each model both ways",
    )
    parser.add_argument("--quick", action="store_true", help="3 small cases, hints 0,4,16: a smoke run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


#: Defaults of the options --quick changes: (full run, quick run).
_DEFAULTS: dict[str, tuple[Any, Any]] = {
    "count": (48, 3),
    "size": (256, 64),
    "hints": ("0,1,4,16,64", "0,4,16"),
    "gaps": (12, 4),
    "sheet_cases": (4, 2),
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


#: Defaults of --set real where they differ: (full run, quick run).
_REAL_DEFAULTS: dict[str, tuple[Any, Any]] = {
    "hints": ("0,4,16,region", "0,4,region"),
    "gaps": (0, 0),
    "limit": (None, 3),
}


def _parse_counts(text: str) -> list[int | str]:
    """Hint counts, ascending, then ``region`` (one per hintable region) when asked for."""
    from colorizer.eval.cases import PER_REGION

    tokens = {v.strip().lower() for v in text.split(",") if v.strip()}
    per_region = PER_REGION in tokens
    try:
        numbers = sorted({int(v) for v in tokens - {PER_REGION}})
    except ValueError:
        raise ValueError(
            f"--hints must be comma-separated integers or {PER_REGION!r}, got {text!r}"
        ) from None
    if (not numbers and not per_region) or (numbers and numbers[0] < 0):
        raise ValueError(f"--hints needs non-negative counts, got {text!r}")
    return [*numbers, *([PER_REGION] if per_region else [])]


def _parse_widths(text: str | None) -> list[int]:
    """``--gap-widths``: positive widths in px, ascending."""
    if not text:
        return []
    try:
        widths = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise ValueError(f"--gap-widths must be comma-separated integers, got {text!r}") from None
    if not widths or widths[0] < 1:
        raise ValueError(f"--gap-widths needs widths >= 1 px, got {text!r}")
    return widths


def run(args: argparse.Namespace) -> int:
    """Entry point of ``colorizer eval``."""
    from colorizer import contract
    from colorizer.eval import logger
    from colorizer.eval.cases import EVAL_SEED, MAX_HINTS, image_case, image_files, synthetic_case
    from colorizer.eval.real import ALL_SET, gapped_name, real_sets
    from colorizer.eval.report import contact_sheet, markdown_tables, write_json, write_png
    from colorizer.eval.runner import evaluate
    from colorizer.eval.systems import (
        CanvasSystem,
        FlatFillSystem,
        FloodFillSystem,
        KeepPaperSystem,
        NoHintsSystem,
        OnnxSystem,
        SpreadHintsSystem,
        System,
        TorchSystem,
        sheet_columns,
    )

    real = args.set == "real"
    real_facts: dict[str, Any] = {}
    unions: dict[str, list[str]] = {}
    try:
        if real and args.images:
            raise ValueError("--images and --set real are two different case sets; pick one")
        for key, (full, quick) in {**_DEFAULTS, **(_REAL_DEFAULTS if real else {})}.items():
            if getattr(args, key) is None:
                setattr(args, key, quick if args.quick else full)
        counts = _parse_counts(args.hints)
        numbers = [c for c in counts if isinstance(c, int)]
        if numbers and numbers[-1] > MAX_HINTS:
            raise ValueError(f"at most {MAX_HINTS} hints per case, got {numbers[-1]}")
        contract.check_size(args.size, args.size)
        if args.count < 1:
            raise ValueError(f"--count must be >= 1, got {args.count}")
        seed = EVAL_SEED if args.seed is None else args.seed
        if seed < 10**6:
            raise ValueError(f"--seed {seed} is a training seed range (< 10**6); pick a held-out one")

        models: list[System] = []
        served: System | None = None
        onnx = args.onnx
        if onnx is None and not args.checkpoint and DEFAULT_ONNX.is_file():
            onnx = DEFAULT_ONNX
        if onnx is not None:
            if not onnx.is_file():
                raise ValueError(f"--onnx: no file at {onnx}")
            models.append(OnnxSystem(onnx, args.onnx_name, threads=args.threads))
        for spec in args.checkpoint:
            name, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
            if not Path(path).is_file():
                raise ValueError(f"--checkpoint: no file at {path}")
            models.append(TorchSystem(path, name or None, threads=args.threads))
        if args.spread_hints:
            steps = [int(v) for v in args.spread_hints.split(",") if v.strip()]
            if any(k < 0 for k in steps):
                raise ValueError(f"--spread-hints: step counts must be >= 0, got {args.spread_hints}")
            # Each model with its hints spread (the gateway spreads on its canvas), and as given
            # where 0 is listed: a full exam of the served path alone costs half as much.
            models = [SpreadHintsSystem(m, k) if k else m for m in models for k in steps]
        if args.keep_paper != "off":
            # After the spreading: the page is read from the hints as given.
            kept: list[System] = [KeepPaperSystem(m) for m in models]
            models = (
                kept
                if args.keep_paper == "on"
                else [s for pair in zip(models, kept, strict=True) for s in pair]
            )
        if args.canvas:
            canvases = [int(v) for v in args.canvas.split(",") if v.strip()]
            for c in canvases:
                contract.check_size(c, c)
            # Each model as the gateway serves a large sketch, by each upsampling path.
            served = models[0]  # for its metadata in the report
            models = [CanvasSystem(m, c, up) for m in models for c in canvases for up in (False, True)]
        systems: list[System] = [*models, FloodFillSystem()]
        if real:
            # The real exam compares what users get: every model, and every model's flat fill.
            # (With --canvas, on the guided path only: flat fill repaints the regions either way.)
            systems = [
                s
                for m in models
                for s in (m, FlatFillSystem(m, gap=args.flat_fill_gap))[: 1 + getattr(m, "guided", True)]
            ]
            systems.append(FloodFillSystem())
        elif args.flat_fill and models:
            systems.insert(1, FlatFillSystem(models[0], gap=args.flat_fill_gap))
        if models:
            systems.append(NoHintsSystem(models[0], "no hints"))
        names = [s.name for s in systems]
        if len(set(names)) != len(names):
            raise ValueError(f"two systems share a name: {names}; use --checkpoint NAME=PATH")

        sets: dict[str, list[Any]] = {}
        if real:
            wanted = [v.strip() for v in args.sources.split(",") if v.strip()] if args.sources else None
            widths = _parse_widths(args.gap_widths)
            sets, real_facts = real_sets(
                args.data_root,
                wanted,
                args.size,
                seed=seed,
                limit=args.limit,
                gaps=args.gaps or 12,
                gap_widths=widths,
            )
            gapped = {gapped_name(n, w) for n in sets for w in widths}
            unions[ALL_SET] = [n for n in sets if n not in gapped]
            for w in widths:
                unions[gapped_name(ALL_SET, w)] = [n for n in sets if n.endswith(gapped_name("", w))]
        elif args.images:
            files = image_files(args.images)
            if not files:
                raise ValueError(f"--images: no image files under {args.images}")
            sets[f"images ({args.images.name})"] = [image_case(p, args.size, seed=seed) for p in files]
            if args.gaps:
                sets[f"images ({args.images.name}), line gaps"] = [
                    image_case(p, args.size, seed=seed, gaps=args.gaps, gap_radius=args.gap_radius)
                    for p in files
                ]
        else:
            sets["synthetic"] = [synthetic_case(i, args.size, seed=seed) for i in range(args.count)]
            if args.gaps:
                wide = f" of {2 * args.gap_radius + 1} px" if args.gap_radius != 3 else ""
                sets[f"synthetic, {args.gaps} line gaps{wide}"] = [
                    synthetic_case(i, args.size, seed=seed, gaps=args.gaps, gap_radius=args.gap_radius)
                    for i in range(args.count)
                ]
    except (ValueError, OSError) as exc:
        print(f"colorizer eval: {exc}", file=sys.stderr)
        return 2

    logger.info("systems: %s; sets: %s; hints: %s", names, list(sets), counts)
    results, sheets = evaluate(
        sets, systems, counts, sheet_cases=args.sheet_cases, progress=not args.no_progress, unions=unions
    )
    args.out.mkdir(parents=True, exist_ok=True)
    config = {
        "systems": names,
        "sets": {k: [c.name for c in v] for k, v in sets.items()},
        "hints": counts,
        "size": args.size,
        "seed": seed,
        "gaps": args.gaps,
        "onnx": str(onnx) if onnx else None,
        "onnx_metadata": getattr(served or models[0], "metadata", None) if onnx is not None else None,
        "checkpoints": list(args.checkpoint),
        "images": str(args.images) if args.images else None,
        "set": args.set,
        "data_root": str(args.data_root) if real else None,
        "limit": args.limit if real else None,
        "real": real_facts or None,
    }
    write_json(args.out / "report.json", results, config)
    (args.out / "report.md").write_text(markdown_tables(results, counts))
    shown, titles = sheet_columns(systems) if real and models else (names, None)
    for set_name, rows in sheets.items():
        if rows:
            sheet = contact_sheet(rows, shown, titles=titles, sketch_title="lines" if real else "sketch")
            write_png(args.out / f"contact_sheet-{_slug(set_name)}.png", sheet)
    logger.info("wrote %s", args.out)
    print(markdown_tables(results, counts))
    return 0
