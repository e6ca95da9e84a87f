"""Measure whether the gateway should micro-batch in front of Triton (whose dynamic batcher batches too).

Starts a local Triton on a model repository, then for gateway batching 'on' and 'off' runs the
same closed-loop load through an in-process gateway and prints throughput and latency.
Usage: python scripts/bench_triton_batching.py REPOSITORY [--size 256] [--requests 96] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import cv2
import grpc
import numpy as np

from export.triton_local import LocalTriton
from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc
from service.server import Gateway
from service.settings import Settings


async def _load(address: str, sketch: bytes, requests: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.ColorizerStub(channel)
        await stub.Colorize(pb.ColorizeRequest(sketch=sketch), timeout=120)  # warm up

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                t = time.perf_counter()
                await stub.Colorize(pb.ColorizeRequest(sketch=sketch), timeout=120)
                latencies.append(time.perf_counter() - t)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


async def _run(args: argparse.Namespace, triton_url: str) -> None:
    img = np.full((args.size, args.size), 255, np.uint8)
    cv2.circle(img, (args.size // 2, args.size // 2), args.size // 3, 0, 2)
    sketch = cv2.imencode(".png", img)[1].tobytes()
    for mode in args.modes:
        settings = Settings(
            host="127.0.0.1",
            port=0,
            metrics_port=0,
            backend="triton",
            triton_url=triton_url,
            input_size=args.size,
            gateway_batching=mode,
            max_batch_size=8,
            max_wait_ms=5,
        )
        gateway = Gateway(settings)
        await gateway.start()
        try:
            wall, lat = await _load(gateway.address, sketch, args.requests, args.concurrency)
        finally:
            await gateway.stop(1)
        lat.sort()
        print(
            f"gateway_batching={mode:3s} size={args.size} n={args.requests} c={args.concurrency}: "
            f"{args.requests / wall:6.1f} img/s  p50 {statistics.median(lat) * 1000:7.1f} ms  "
            f"p95 {lat[int(0.95 * (len(lat) - 1))] * 1000:7.1f} ms",
            flush=True,
        )


def main() -> int:
    """Start Triton, measure each mode, stop Triton."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", type=Path)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--modes", nargs="+", default=["off", "on", "off", "on"])
    args = parser.parse_args()
    with LocalTriton(args.repository) as triton:
        asyncio.run(_run(args, triton.grpc_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
