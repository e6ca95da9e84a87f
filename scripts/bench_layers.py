"""What layered output costs: one sketch at SIZE px through a real gateway (embedded backend,
real gRPC), plain / flat fill / flat fill + PSD / + zip / + PSD of a transparent copy; the
postprocess time (median of --repeat) and the bytes returned. With ``--color`` (the drawing's
colored original) 12 point hints are taken from it on paper pixels of a grid. ``--gimp`` also
opens the PSD in GIMP (scripts/gimp_check.py), times it and compares GIMP's composite with the
flat-fill image; ``--sheet`` writes a contact sheet of the PSD's layers as psd-tools reads them.

    python scripts/bench_layers.py data/real/openmoji/lines/1F600.png \
        --color data/real/openmoji/color/1F600.png --size 2048 --gimp --sheet layers.png
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from colorizer.imaging.hints import PointHint  # noqa: E402
from colorizer.imaging.hints_json import HintSet  # noqa: E402
from colorizer.imaging.preview import contact_sheet  # noqa: E402
from service.client.client import ColorizeOptions, ColorizerClient, build_request  # noqa: E402
from service.server import running_server  # noqa: E402
from service.settings import Settings  # noqa: E402

CASES = {
    "plain": ColorizeOptions(),
    "flat": ColorizeOptions(flat_fill=True),
    "flat+psd": ColorizeOptions(flat_fill=True, layers="psd"),
    "flat+zip": ColorizeOptions(flat_fill=True, layers="zip"),
    "flat+psd, transparent input": ColorizeOptions(flat_fill=True, layers="psd"),
}


def sketches(path: Path, size: int) -> tuple[np.ndarray, bytes, bytes]:
    """The sketch scaled to ``size`` on its long side: gray, opaque PNG, and ink-as-alpha PNG."""
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise SystemExit(f"{path}: not an image")
    scale = size / max(gray.shape)
    gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    transparent = np.dstack([np.zeros((*gray.shape, 3), np.uint8), 255 - gray])
    return gray, cv2.imencode(".png", gray)[1].tobytes(), cv2.imencode(".png", transparent)[1].tobytes()


def hints_from(color_path: Path | None, gray: np.ndarray) -> HintSet:
    """Up to 12 point hints: the colored original's color at paper pixels of a 6x6 grid."""
    if color_path is None:
        return HintSet()
    color = cv2.imread(str(color_path), cv2.IMREAD_UNCHANGED)
    if color is None:
        raise SystemExit(f"{color_path}: not an image")
    h, w = gray.shape
    color = cv2.resize(color, (w, h), interpolation=cv2.INTER_AREA)
    points: list[PointHint] = []
    for fy in np.linspace(0.2, 0.8, 6):
        for fx in np.linspace(0.2, 0.8, 6):
            x, y = int(fx * w), int(fy * h)
            opaque = color.shape[2] < 4 or color[y, x, 3] == 255
            if gray[y, x] > 240 and opaque and len(points) < 12:
                b, g, r = (int(v) for v in color[y, x, :3])
                points.append(PointHint(x, y, (r, g, b), h / 100))
    return HintSet(tuple(points), ())


def checker(rgba: np.ndarray) -> np.ndarray:
    """RGBA over a gray checkerboard (transparency visible), RGB."""
    h, w = rgba.shape[:2]
    cells = ((np.arange(h)[:, None] // 64 + np.arange(w)[None, :] // 64) % 2).astype(np.float32)
    board = (200 + 55 * cells)[..., None]
    a = rgba[..., 3:].astype(np.float32) / 255.0
    return (rgba[..., :3] * a + board * (1.0 - a) + 0.5).astype(np.uint8)

def _decode(data: bytes) -> np.ndarray:
    """Encoded image -> BGR uint8."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit("an image did not decode")
    return np.asarray(img, dtype=np.uint8)


async def run(args: argparse.Namespace) -> dict:
    gray, opaque, transparent = sketches(args.sketch, args.size)
    hints = hints_from(args.color, gray)
    settings = Settings(
        host="127.0.0.1", port=0, metrics_port=0, model_repository=args.model_repository,
        max_sketch_pixels=max(args.size**2, 16 * 2**20), max_message_bytes=256 * 2**20,
    )
    rows: dict[str, dict] = {}
    async with running_server(settings) as address, ColorizerClient(
        address, timeout_s=600, max_message_bytes=256 * 2**20
    ) as client:
        for name, options in CASES.items():
            sketch = transparent if "transparent" in name else opaque
            request = build_request(sketch, hints, options=options)
            results = [await client.colorize(request) for _ in range(args.repeat)]
            last = results[-1]
            rows[name] = {
                "postprocess_ms": round(statistics.median(r.timings_ms["postprocess"] for r in results), 1),
                "total_ms": round(statistics.median(r.timings_ms["total"] for r in results), 1),
                "image_bytes": len(last.image),
                "layers_bytes": len(last.layers),
            }
            if name == "flat+psd":
                psd_bytes, flat_png = last.layers, last.image
    report: dict = {
        "size": args.size, "sketch": str(args.sketch), "hints": len(hints.points),
        "repeat": args.repeat, "cases": rows,
    }
    if args.sheet is not None:
        from psd_tools import PSDImage

        document = PSDImage.open(io.BytesIO(psd_bytes))
        tiles = [checker(np.asarray(layer.topil())) for layer in document]
        flat = np.asarray(cv2.cvtColor(_decode(flat_png), cv2.COLOR_BGR2RGB), dtype=np.uint8)
        names = [f"{layer.name}{'' if layer.visible else ' (hidden)'}" for layer in document]
        sheet = contact_sheet(
            [(f"{args.sketch.name} at {args.size} px, {len(hints.points)} hints", [*tiles, flat])],
            [*names, "composite"], tile=args.tile,
        )
        cv2.imwrite(str(args.sheet), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        report["sheet"] = str(args.sheet)
    if args.gimp:
        with tempfile.TemporaryDirectory() as tmp:
            psd = Path(tmp) / "page.psd"
            psd.write_bytes(psd_bytes)
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, str(ROOT / "scripts/gimp_check.py"), str(psd),
                 "--composite", str(Path(tmp) / "gimp.png")],
                capture_output=True, text=True, check=False,
            )
            report["gimp"] = {"seconds": round(time.monotonic() - started, 1), "rc": done.returncode}
            if done.returncode == 0:
                report["gimp"]["report"] = json.loads(done.stdout)
                gimp = _decode((Path(tmp) / "gimp.png").read_bytes()).astype(int)
                diff = np.abs(gimp - _decode(flat_png).astype(int))
                report["gimp"]["composite_vs_flat"] = {
                    "max_abs_diff": int(diff.max()),
                    "pixels_off_by_more_than_1": float((diff.max(2) > 1).mean()),
                }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sketch", type=Path)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model-repository", type=Path, default=ROOT / "model_repository")
    parser.add_argument("--color", type=Path, help="the drawing's colored original: hints taken from it")
    parser.add_argument("--gimp", action="store_true", help="also open the PSD in GIMP and time it")
    parser.add_argument("--sheet", type=Path, help="write a contact sheet of the PSD's layers here")
    parser.add_argument("--tile", type=int, default=256, help="contact sheet tile size (px)")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
