"""The demo: serve the committed model, color examples/ through the gateway, write a contact sheet.

Starts the real gateway (embedded ONNX Runtime backend) on a free localhost port, colors every
sketch in examples/ (with its NAME.hints.json, if any) through the batch client, writes the
results and ``contact_sheet.png`` (sketch | hints | result | flat fill, one row per example) to
demo_out/, stops the gateway and prints a summary. No GPU, no Triton, no network needed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from service.client.batch import BatchItem, BatchSummary
    from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb

#: Where ``--update-docs`` copies the contact sheet (the README links it).
DOCS_SHEET = Path("docs/images/demo_contact_sheet.png")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``colorizer demo``."""
    parser.add_argument("--examples", type=Path, default=Path("examples"), help="sketches (+ hints) to color")
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default demo_out)")
    parser.add_argument(
        "--model-repository", type=Path, default=Path("model_repository"), help="model to serve"
    )
    parser.add_argument(
        "--input-size", type=int, default=None, help="model canvas side (default: the server's)"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once")
    parser.add_argument("--overlay-lines", action="store_true", help="multiply the line art over each result")
    parser.add_argument(
        "--no-flat-fill",
        action="store_true",
        help="skip the second pass with output.flat_fill (results-flat/ and the sheet's last column)",
    )
    parser.add_argument("--tile", type=int, default=256, help="contact sheet tile side in pixels")
    parser.add_argument(
        "--update-docs", action="store_true", help=f"also copy the contact sheet to {DOCS_SHEET}"
    )


@dataclass(frozen=True)
class DemoRun:
    """What the gateway served and what the batch did."""

    info: pb.ModelInfo
    summary: BatchSummary
    #: The same examples with ``flat_fill``, unless ``--no-flat-fill``.
    flat: BatchSummary | None = None


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every example was colored and the sheet written."""
    from service.client.batch import plan
    from service.client.client import ClientError

    results_dir = args.out / "results"
    try:
        items = plan(args.examples, results_dir, "png")
        flat_items = [] if args.no_flat_fill else plan(args.examples, args.out / "results-flat", "png")
    except FileNotFoundError as exc:
        print(f"colorizer demo: {exc}", file=sys.stderr)
        return 2
    if not items:
        print(f"colorizer demo: no sketches in {args.examples}", file=sys.stderr)
        return 2
    for item in (*items, *flat_items):  # the demo always shows the current model: no stale results
        item.output.unlink(missing_ok=True)
    try:
        demo = asyncio.run(_serve_and_color(args, items, flat_items))
    except ClientError as exc:
        print(f"colorizer demo: {exc}", file=sys.stderr)
        print(
            f"  (the demo serves {args.model_repository}/colorizer/<version>/model.onnx; "
            "make it with `colorizer export`, see the README)",
            file=sys.stderr,
        )
        return 1
    sheet_path = args.out / "contact_sheet.png"
    _write_sheet(items, demo, sheet_path, args.tile)
    if args.update_docs:
        DOCS_SHEET.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sheet_path, DOCS_SHEET)
    _print_summary(items, demo, sheet_path)
    return 1 if demo.summary.failed or (demo.flat is not None and demo.flat.failed) else 0


async def _serve_and_color(
    args: argparse.Namespace, items: list[BatchItem], flat_items: list[BatchItem]
) -> DemoRun:
    """Start the gateway, color ``items`` through it, stop it."""
    from service.client.batch import colorize_folder
    from service.client.client import ColorizeOptions, ColorizerClient
    from service.client.local import local_gateway_for

    async with (
        local_gateway_for(args.model_repository, args.input_size) as address,
        ColorizerClient(address, timeout_s=120.0) as client,
    ):
        info = await client.model_info()
        summary = await colorize_folder(
            client,
            items,
            options=ColorizeOptions(overlay_lines=args.overlay_lines),
            concurrency=args.concurrency,
        )
        flat = None
        if flat_items:
            flat = await colorize_folder(
                client, flat_items, options=ColorizeOptions(flat_fill=True), concurrency=args.concurrency
            )
    return DemoRun(info, summary, flat)


def _write_sheet(items: list[BatchItem], demo: DemoRun, path: Path, tile: int) -> None:
    import cv2
    import numpy as np

    from colorizer.imaging import InputLimits, decode_sketch
    from colorizer.imaging.hints_json import HintSet, load_hints_file
    from colorizer.imaging.postprocess import decode_rgb
    from colorizer.imaging.preview import contact_sheet, draw_hints

    rows: list[tuple[str, list[np.ndarray]]] = []
    for item in items:
        gray = decode_sketch(item.sketch.read_bytes(), InputLimits())
        hints = load_hints_file(item.hints) if item.hints else HintSet()
        tiles = [gray, draw_hints(gray, hints.points, hints.strokes)]
        timing = "FAILED"
        for summary in (demo.summary, demo.flat):
            if summary is None:
                continue
            result = summary.results.get(item.sketch)
            if result is not None:
                tiles.append(decode_rgb(result.image))
                if summary is demo.summary:
                    timing = f"{result.timings_ms['total']:.0f} ms"
            else:  # a failed item: an empty tile keeps the rows aligned
                tiles.append(np.full_like(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), 255))
        label = f"{item.sketch.name}  {gray.shape[1]}x{gray.shape[0]}  {len(hints)} hints  {timing}"
        rows.append((label, tiles))
    info = demo.info
    title = (
        f"model {info.model_name} v{info.model_version}, {info.backend} backend, {info.input_size} px canvas"
    )
    columns = ["sketch", "hints", "result"] + (["flat fill"] if demo.flat is not None else [])
    sheet = contact_sheet(rows, columns, tile=tile, title=title)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


def _print_summary(items: list[BatchItem], demo: DemoRun, sheet_path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    info, summary = demo.info, demo.summary
    table = Table(title=f"colorizer demo: {info.model_name} v{info.model_version} ({info.backend})")
    for column in ("sketch", "size", "hint cells", "total ms", "model ms"):
        table.add_column(column, no_wrap=True)
    failed = dict(summary.failed)
    for item in items:
        r = summary.results.get(item.sketch)
        if r is None:
            table.add_row(item.sketch.name, "failed", "", "", "")
            continue
        table.add_row(
            item.sketch.name,
            f"{r.width}x{r.height}",
            str(r.hint_cells),
            f"{r.timings_ms['total']:.0f}",
            f"{r.timings_ms['inference']:.0f}",
        )
    console = Console()
    console.print(table)
    for sketch, message in failed.items():
        console.print(f"failed: {sketch.name}: {message}", style="red", soft_wrap=True)
    console.print(
        f"{summary.line()}; results in {items[0].output.parent}, contact sheet {sheet_path}", soft_wrap=True
    )
    if demo.flat is not None:
        console.print(f"flat fill: {demo.flat.line()}; results in {sheet_path.parent / 'results-flat'}")
        for sketch, message in demo.flat.failed:
            console.print(f"flat fill failed: {sketch.name}: {message}", style="red", soft_wrap=True)
