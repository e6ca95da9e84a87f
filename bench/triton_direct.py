"""Mode ``triton``: the gateway's Triton backend against a direct tritonclient user.

The direct client does what the gateway does, itself: decode the PNG, fit it on the canvas, build
the hint map (``colorizer.imaging``), call Triton with tritonclient's asyncio gRPC client, then
turn the tensor back into a PNG of the original size. Image work runs in a thread pool, as in the
gateway, so both sides spend the same CPU per image; only the extra gRPC hop differs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import time
from collections.abc import Sequence

import numpy as np

from bench.gateway import LoadRow, row_from
from bench.loadgen import LoadResult
from bench.workload import Sample
from colorizer import contract, encoding, imaging


def _prepare(
    s: Sample, canvas: int, limits: imaging.InputLimits
) -> tuple[np.ndarray, np.ndarray, imaging.Canvas, np.ndarray]:
    gray = imaging.decode_sketch(s.png, limits)
    fitted, place = imaging.fit_sketch(gray, canvas)
    hint, _ = imaging.build_hint_map(place, s.points, s.strokes, None, limits)
    return encoding.encode_sketch(fitted)[None], hint[None], place, gray


def _finish(color: np.ndarray, place: imaging.Canvas, gray: np.ndarray) -> bytes:
    # The gateway's default output: upscaled along the lines, the lines drawn over, PNG.
    rgb = imaging.guided_restore(encoding.decode_color(color[0]), place, gray)
    return imaging.encode_image(imaging.overlay_lines(rgb, gray), "png")


async def run_direct(
    url: str,
    samples: Sequence[Sample],
    *,
    canvas: int,
    concurrency: int,
    duration_s: float,
    workers: int,
    timeout_s: float = 300.0,
) -> LoadResult:
    """Closed-loop direct clients for ``duration_s``: the same accounting as :func:`run_load`."""
    import tritonclient.grpc.aio as triton
    from tritonclient.utils import InferenceServerException

    limits = imaging.InputLimits()
    result = LoadResult()
    cycle = itertools.cycle(samples)
    loop = asyncio.get_running_loop()
    client = triton.InferenceServerClient(url)
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="direct") as pool:
        started = time.perf_counter()
        stop_at = started + duration_s

        async def one_client() -> None:
            while time.perf_counter() < stop_at:
                s = next(cycle)
                result.sent += 1
                t0 = time.perf_counter()
                sketch, hint, place, gray = await loop.run_in_executor(pool, _prepare, s, canvas, limits)
                inputs = []
                for spec, array in ((contract.SKETCH, sketch), (contract.HINT, hint)):
                    tensor = triton.InferInput(spec.name, list(array.shape), "FP32")
                    tensor.set_data_from_numpy(array)
                    inputs.append(tensor)
                try:
                    response = await client.infer(
                        contract.MODEL_NAME,
                        inputs,
                        outputs=[triton.InferRequestedOutput(contract.COLOR.name)],
                        client_timeout=timeout_s,
                    )
                except InferenceServerException as exc:
                    result.count(str(exc.status() or "UNKNOWN"))
                    continue
                color = response.as_numpy(contract.COLOR.name)
                await loop.run_in_executor(pool, _finish, color, place, gray)
                result.latencies_s.append(time.perf_counter() - t0)
                result.ok += 1
                result.count("OK")

        try:
            await asyncio.gather(*(one_client() for _ in range(concurrency)))
        finally:
            await client.close()
        result.wall_s = time.perf_counter() - started
    return result


def direct_sweep(
    url: str,
    samples: Sequence[Sample],
    concurrencies: Sequence[int],
    *,
    canvas: int,
    duration_s: float,
    workers: int,
) -> list[LoadRow]:
    """One :class:`bench.gateway.LoadRow` per concurrency (after a small warm-up)."""
    asyncio.run(run_direct(url, samples, canvas=canvas, concurrency=2, duration_s=0.1, workers=workers))
    return [
        row_from(
            "triton-direct",
            c,
            asyncio.run(
                run_direct(url, samples, canvas=canvas, concurrency=c, duration_s=duration_s, workers=workers)
            ),
        )
        for c in concurrencies
    ]
