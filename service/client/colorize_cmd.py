"""Color one sketch (through --server, or a local embedded gateway)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.client.local import add_connection_arguments
from service.client.security_args import SecurityArgumentError, client_security

if TYPE_CHECKING:
    from service.client.client import ColorizeResult, RetryPolicy
    from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb

_FORMAT_BY_SUFFIX = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``colorizer colorize``."""
    parser.add_argument("sketch", type=Path, help="line sketch (PNG, JPEG, WebP, BMP, TIFF, GIF)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="result file (.png, .jpg or .webp)")
    parser.add_argument(
        "--hint",
        action="append",
        default=[],
        metavar="X,Y,#RRGGBB[,R]",
        help="a color hint at original-pixel (X, Y), optional radius R; repeat for more",
    )
    parser.add_argument("--hints-file", type=Path, help='hints JSON ({"points": [...], "strokes": [...]})')
    parser.add_argument(
        "--hint-image", type=Path, help="RGBA hint layer the size of the sketch (alpha > 0 = hint)"
    )
    parser.add_argument(
        "--extract-lines", action="store_true", help="the input is a color picture: extract lines"
    )
    parser.add_argument("--overlay-lines", action="store_true", help="multiply the line art over the result")
    parser.add_argument(
        "--flat-fill", action="store_true", help="flat colors: one per line-bounded region, lines drawn over"
    )
    layered = parser.add_mutually_exclusive_group()
    layered.add_argument(
        "--psd", type=Path, metavar="FILE.psd", help="also write the result as a layered PSD"
    )
    layered.add_argument(
        "--layers", type=Path, metavar="FILE.zip", help="also write the result's layers as PNGs in a zip"
    )
    parser.add_argument(
        "--paper", action="store_true", help="put a transparent background on white paper (default: keep)"
    )
    parser.add_argument(
        "--quality", type=int, default=0, help="JPEG/WebP quality 1..100 (0 = server default)"
    )
    add_canvas_arguments(parser)
    add_connection_arguments(parser)


def add_canvas_arguments(parser: argparse.ArgumentParser) -> None:
    """--canvas and --upscale: the model canvas and how its colors reach the original size."""
    parser.add_argument(
        "--canvas",
        type=int,
        default=0,
        help="model canvas side, px (a multiple of 16 in the server's range; 0 = the server's choice, "
        "from the sketch's size)",
    )
    parser.add_argument(
        "--upscale",
        choices=("guided", "resize"),
        default="guided",
        help="canvas colors to the original size: guided (color edges on the lines, lines drawn "
        "over; default) or a plain resize",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``colorizer colorize``; 0 on success, 1 if the gateway failed or refused, 2 on bad arguments."""
    from colorizer.imaging import ImageInputError
    from colorizer.imaging.hints_json import HintSet, load_hints_file, parse_hint_spec
    from service.client.client import ClientError, ColorizeOptions, RetryPolicy, build_request

    fmt = _FORMAT_BY_SUFFIX.get(args.output.suffix.lower())
    if fmt is None:
        print(f"colorizer colorize: -o must end in one of {sorted(_FORMAT_BY_SUFFIX)}", file=sys.stderr)
        return 2
    try:
        security = client_security(args)
    except SecurityArgumentError as exc:
        print(f"colorizer colorize: {exc}", file=sys.stderr)
        return 2
    try:
        file_hints = load_hints_file(args.hints_file) if args.hints_file else HintSet()
        flag_points = tuple(parse_hint_spec(spec) for spec in args.hint)
        hints = HintSet(file_hints.points + flag_points, file_hints.strokes)
        sketch = args.sketch.read_bytes()
        hint_image = args.hint_image.read_bytes() if args.hint_image else b""
    except (ImageInputError, OSError) as exc:
        print(f"colorizer colorize: {exc}", file=sys.stderr)
        return 2
    options = ColorizeOptions(
        format=fmt,
        quality=args.quality,
        extract_lines=args.extract_lines,
        overlay_lines=args.overlay_lines,
        flat_fill=args.flat_fill,
        upscale=args.upscale,
        canvas=args.canvas,
        layers="psd" if args.psd else "zip" if args.layers else "",
        paper=args.paper,
    )
    request = build_request(
        sketch, hints, hint_image=hint_image, options=options, request_id=args.sketch.name
    )
    try:
        result = asyncio.run(_colorize(args, request, RetryPolicy(attempts=max(1, args.retries)), security))
    except ClientError as exc:
        print(f"colorizer colorize: {args.sketch}: {exc}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(result.image)
    print(
        f"{args.output}: {result.width}x{result.height} {result.format}, {result.hint_cells} hint cells, "
        f"model {result.model_name} v{result.model_version}, {result.timings_ms['total']:.0f} ms"
    )
    layers_file = args.psd or args.layers
    if layers_file is not None:
        layers_file.parent.mkdir(parents=True, exist_ok=True)
        layers_file.write_bytes(result.layers)
        print(f"{layers_file}: {result.layers_format} layers, {len(result.layers)} bytes")
    return 0


async def _colorize(
    args: argparse.Namespace, request: pb.ColorizeRequest, retry: RetryPolicy, security: dict[str, Any]
) -> ColorizeResult:
    from service.client.client import ColorizerClient
    from service.client.local import gateway_address

    async with (
        gateway_address(args) as address,
        ColorizerClient(address, timeout_s=args.timeout, retry=retry, **security) as client,
    ):
        return await client.colorize(request)
