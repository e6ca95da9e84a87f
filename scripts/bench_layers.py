"""What layered output costs: one sketch at SIZE px through a real gateway (embedded backend,
real gRPC), plain / flat fill / flat fill + PSD / + zip / + PSD of a transparent copy; the
postprocess time (median of --repeat) and the bytes returned. ``--gimp`` also opens the PSD in
GIMP (scripts/gimp_check.py) and times it.

    python scripts/bench_layers.py data/real/openmoji/lines/1F600.png --size 2048 --gimp
"""

from __future__ import annotations

import argparse
import asyncio
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


def sketches(path: Path, size: int) -> tuple[bytes, bytes]:
    """The sketch scaled to ``size`` on its long side: opaque PNG, and ink-as-alpha PNG."""
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise SystemExit(f"{path}: not an image")
    scale = size / max(gray.shape)
    gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    transparent = np.dstack([np.zeros((*gray.shape, 3), np.uint8), 255 - gray])
    return cv2.imencode(".png", gray)[1].tobytes(), cv2.imencode(".png", transparent)[1].tobytes()


async def run(args: argparse.Namespace) -> dict:
    opaque, transparent = sketches(args.sketch, args.size)
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
            request = build_request(sketch, options=options)
            results = [await client.colorize(request) for _ in range(args.repeat)]
            last = results[-1]
            rows[name] = {
                "postprocess_ms": round(statistics.median(r.timings_ms["postprocess"] for r in results), 1),
                "total_ms": round(statistics.median(r.timings_ms["total"] for r in results), 1),
                "image_bytes": len(last.image),
                "layers_bytes": len(last.layers),
            }
            if name == "flat+psd":
                psd_bytes = last.layers
    report: dict = {"size": args.size, "sketch": str(args.sketch), "repeat": args.repeat, "cases": rows}
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
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sketch", type=Path)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model-repository", type=Path, default=ROOT / "model_repository")
    parser.add_argument("--gimp", action="store_true", help="also open the PSD in GIMP and time it")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
