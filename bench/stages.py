"""Mode ``stages``: per-image cost of each image stage the gateway runs, by sketch size.

The same imaging/encoding calls as :class:`service.pipeline.Pipeline` (decode, fit onto the
canvas + scale to the tensor, hint map, tensor -> image + restore the original size, PNG encode),
timed one image at a time on one thread. Inference on the served canvas is measured in the same
loop, so the pre+post share of inference comes from one run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import workload
from bench.raw import make_session
from colorizer import contract, encoding, imaging

STAGES = ("decode", "normalize", "hint_map", "postprocess", "encode")


@dataclass(frozen=True)
class StageRow:
    """Median milliseconds per stage for one sketch size."""

    size: int
    megapixels: float
    ms: dict[str, float]
    #: Inference of the served canvas for one image (batch 1), same loop.
    inference_ms: float
    #: ``output.flat_fill`` (hint layer + regions + fills), paid only by requests that ask for it:
    #: not part of :attr:`pre_post_ms`.
    flat_fill_ms: float = 0.0

    @property
    def pre_post_ms(self) -> float:
        """Everything but inference."""
        return sum(self.ms.values())

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form with the derived share."""
        out = asdict(self)
        out["pre_post_ms"] = self.pre_post_ms
        out["pre_post_over_inference"] = self.pre_post_ms / self.inference_ms
        return out


def _median_ms(fn: Callable[[], object], budget_s: float, min_runs: int = 3) -> float:
    fn()  # warm-up (first call pays for OpenCV's lazy init)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < budget_s:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def measure_stages(
    model: Path, canvas: int, sizes: Sequence[int], *, threads: int, budget_s: float
) -> list[StageRow]:
    """One :class:`StageRow` per sketch size; ``budget_s`` seconds per stage and size."""
    limits = imaging.InputLimits(max_sketch_pixels=max(sizes) ** 2, max_sketch_bytes=2**28)
    session = make_session(model, threads)
    return [_measure_size(session, size, canvas, limits, budget_s) for size in sizes]


def _measure_size(
    session: Any, size: int, canvas: int, limits: imaging.InputLimits, budget_s: float
) -> StageRow:
    s = workload.sample(size, size, seed=size)
    gray = imaging.decode_sketch(s.png, limits)
    fitted, place = imaging.fit_sketch(gray, canvas)
    hint, _ = imaging.build_hint_map(place, s.points, s.strokes, None, limits)
    tensors = {
        contract.SKETCH.name: encoding.encode_sketch(fitted)[None],
        contract.HINT.name: hint[None],
    }
    (color,) = session.run([contract.COLOR.name], tensors)

    def normalize() -> object:
        out, _ = imaging.fit_sketch(gray, canvas)
        return encoding.encode_sketch(out)

    def postprocess() -> np.ndarray:
        return imaging.restore_size(encoding.decode_color(color[0]), place)

    rgb = postprocess()
    ms = {
        "decode": _median_ms(lambda: imaging.decode_sketch(s.png, limits), budget_s),
        "normalize": _median_ms(normalize, budget_s),
        "hint_map": _median_ms(
            lambda: imaging.build_hint_map(place, s.points, s.strokes, None, limits), budget_s
        ),
        "postprocess": _median_ms(postprocess, budget_s),
        "encode": _median_ms(lambda: imaging.encode_image(rgb, "png"), budget_s),
    }
    inference = _median_ms(lambda: session.run([contract.COLOR.name], tensors), budget_s)

    def flat_fill() -> np.ndarray:
        layer = imaging.hint_layer(size, size, s.points, s.strokes)
        return imaging.flatten_regions(rgb, gray, layer)

    return StageRow(size, size * size / 1e6, ms, inference, _median_ms(flat_fill, budget_s))


def growth_exponents(rows: Sequence[StageRow]) -> dict[str, float]:
    """Per stage, k in cost ~ pixels^k: least-squares slope of log(ms) on log(pixels) (1.0 = linear)."""
    if len(rows) < 2:
        return {}
    x = np.log([r.megapixels for r in rows])
    out = {}
    for stage in (*STAGES, "total", "flat_fill"):
        if stage == "flat_fill":
            ms = np.array([r.flat_fill_ms for r in rows])
        else:
            ms = np.array([r.pre_post_ms if stage == "total" else r.ms[stage] for r in rows])
        out[stage] = float(np.polyfit(x, np.log(np.maximum(ms, 1e-6)), 1)[0])
    return out
