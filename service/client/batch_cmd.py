"""Color every sketch in a folder (sidecar hints NAME.hints.json; a rerun resumes)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.client.colorize_cmd import add_canvas_arguments
from service.client.local import add_connection_arguments
from service.client.security_args import SecurityArgumentError, client_security

if TYPE_CHECKING:
    from service.client.batch import BatchItem, BatchSummary
    from service.client.client import ColorizeOptions, RetryPolicy


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``colorizer batch``."""
    parser.add_argument(
        "in_dir", type=Path, metavar="IN_DIR", help="folder of sketches (+ optional NAME.hints.json)"
    )
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder for the results (created)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once (default 4)")
    parser.add_argument("--format", choices=("png", "jpeg", "webp"), default="png", help="result format")
    parser.add_argument(
        "--quality", type=int, default=0, help="JPEG/WebP quality 1..100 (0 = server default)"
    )
    parser.add_argument(
        "--extract-lines", action="store_true", help="inputs are color pictures: extract lines"
    )
    parser.add_argument("--overlay-lines", action="store_true", help="multiply the line art over each result")
    parser.add_argument(
        "--flat-fill", action="store_true", help="flat colors: one per line-bounded region, lines drawn over"
    )
    layered = parser.add_mutually_exclusive_group()
    layered.add_argument(
        "--psd", action="store_true", help="also write each result as a layered PSD (OUT_DIR/NAME.psd)"
    )
    layered.add_argument(
        "--layers", action="store_true", help="also write each result's layers as PNGs (NAME.layers.zip)"
    )
    parser.add_argument(
        "--paper", action="store_true", help="put transparent backgrounds on white paper (default: keep)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_canvas_arguments(parser)
    add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``colorizer batch``; 0 if every image was done or skipped, 1 if any failed, 2 on bad arguments."""
    from service.client.batch import plan
    from service.client.client import ClientError, ColorizeOptions, RetryPolicy

    if args.concurrency < 1:
        print("colorizer batch: --concurrency must be >= 1", file=sys.stderr)
        return 2
    try:
        security = client_security(args)
    except SecurityArgumentError as exc:
        print(f"colorizer batch: {exc}", file=sys.stderr)
        return 2
    try:
        items = plan(args.in_dir, args.out_dir, args.format)
    except FileNotFoundError as exc:
        print(f"colorizer batch: {exc}", file=sys.stderr)
        return 2
    options = ColorizeOptions(
        format=args.format,
        quality=args.quality,
        extract_lines=args.extract_lines,
        overlay_lines=args.overlay_lines,
        flat_fill=args.flat_fill,
        upscale=args.upscale,
        canvas=args.canvas,
        layers="psd" if args.psd else "zip" if args.layers else "",
        paper=args.paper,
    )
    try:
        summary = asyncio.run(
            run_batch(args, items, options, RetryPolicy(attempts=max(1, args.retries)), security)
        )
    except ClientError as exc:
        print(f"colorizer batch: {exc}", file=sys.stderr)
        return 1
    print(summary.line())
    for sketch, message in summary.failed:
        print(f"  failed: {sketch.name}: {message}", file=sys.stderr)
    return 1 if summary.failed else 0


async def run_batch(
    args: argparse.Namespace,
    items: list[BatchItem],
    options: ColorizeOptions,
    retry: RetryPolicy,
    security: dict[str, Any] | None = None,
) -> BatchSummary:
    """Color ``items`` through ``args.server`` or a local gateway, with a tqdm progress bar.

    ``security`` holds the client's TLS/token keyword arguments (from :func:`client_security`).
    """
    from tqdm import tqdm

    from service.client.batch import colorize_folder
    from service.client.client import ColorizerClient
    from service.client.local import gateway_address

    async with (
        gateway_address(args) as address,
        ColorizerClient(address, timeout_s=args.timeout, retry=retry, **(security or {})) as client,
    ):
        await client.wait_ready()
        with tqdm(total=len(items), unit="img", disable=args.no_progress, file=sys.stderr) as bar:

            def advance(_item: BatchItem, outcome: str) -> None:
                bar.set_postfix_str(outcome, refresh=False)
                bar.update(1)

            return await colorize_folder(
                client, items, options=options, concurrency=args.concurrency, on_item=advance
            )
