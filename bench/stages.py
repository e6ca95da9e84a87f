"""Mode ``stages``: per-image cost of each image stage the gateway runs, by sketch size.

The same imaging/encoding calls as :class:`service.pipeline.Pipeline` with its default output
(decode, fit onto the canvas + scale to the tensor, hint map + its spreading over the regions,
tensor -> image + the page kept white + the line-guided upscale to the original size + the lines
drawn over, PNG encode), timed one image at a time on
one thread (OpenCV held to one thread, as the gateway holds it: ``opencv_threads``). Inference
on the served canvas, and on a 512 canvas, is measured in the same run, so the pre+post shares
of inference come from one run.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench import workload
from bench.raw import make_session
from colorizer import contract, encoding, imaging
from colorizer.imaging.paper import keep_paper
from colorizer.imaging.spread import spread_hints
from service.settings import Settings

#: The gateway's default settings (the stages are timed as it runs them).
_GATEWAY = Settings()

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
    # One human-drawn line art scaled to every size when `make data` has run (denser drawn
    # sketches cost the guided upscale 1.5-2x more), else the drawn one.
    art = next(iter(workload.real_line_art(1)), None)
    with _one_opencv_thread():
        return [_measure_size(session, size, canvas, limits, budget_s, art) for size in sizes]


@contextlib.contextmanager
def _one_opencv_thread() -> Iterator[None]:
    """OpenCV on one thread meanwhile, as the gateway holds it (``opencv_threads``): per core."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def inference_ms(model: Path, canvas: int, *, threads: int, budget_s: float) -> float:
    """Median milliseconds of one batch-1 inference on a ``canvas`` side (a drawn sketch, 8 hints)."""
    session = make_session(model, threads)
    s = workload.sample(canvas, canvas, seed=canvas)
    limits = imaging.InputLimits()
    fitted, place = imaging.fit_sketch(imaging.decode_sketch(s.png, limits), canvas)
    hint, _ = imaging.build_hint_map(place, s.points, s.strokes, None, limits)
    tensors = {contract.SKETCH.name: encoding.encode_sketch(fitted)[None], contract.HINT.name: hint[None]}
    return _median_ms(lambda: session.run([contract.COLOR.name], tensors), budget_s)


def _measure_size(
    session: Any,
    size: int,
    canvas: int,
    limits: imaging.InputLimits,
    budget_s: float,
    art: np.ndarray | None = None,
) -> StageRow:
    s = workload.sample(size, size, seed=size, lines=art)
    gray = imaging.decode_sketch(s.png, limits)
    fitted, place = imaging.fit_sketch(gray, canvas)
    given, _ = imaging.build_hint_map(place, s.points, s.strokes, None, limits)
    # The gateway's defaults: hints spread over their regions, the page kept white.
    spread, paper = _GATEWAY.hint_spread_cells, _GATEWAY.keep_paper

    def hint_map() -> np.ndarray:
        hint, _ = imaging.build_hint_map(place, s.points, s.strokes, None, limits)
        return spread_hints(hint, fitted, spread) if spread else hint

    hint = hint_map()
    tensors = {
        contract.SKETCH.name: encoding.encode_sketch(fitted)[None],
        contract.HINT.name: hint[None],
    }
    (color,) = session.run([contract.COLOR.name], tensors)

    def normalize() -> object:
        out, _ = imaging.fit_sketch(gray, canvas)
        return encoding.encode_sketch(out)

    def postprocess() -> np.ndarray:
        # The gateway's default output: the canvas content upscaled along the lines, lines over.
        rgb = encoding.decode_color(color[0])
        if paper:
            rgb = keep_paper(rgb, fitted, given)
        rgb = imaging.guided_restore(rgb, place, gray)
        return imaging.overlay_lines(rgb, gray)

    rgb = postprocess()
    ms = {
        "decode": _median_ms(lambda: imaging.decode_sketch(s.png, limits), budget_s),
        "normalize": _median_ms(normalize, budget_s),
        "hint_map": _median_ms(hint_map, budget_s),
        "postprocess": _median_ms(postprocess, budget_s),
        "encode": _median_ms(lambda: imaging.encode_image(rgb, "png"), budget_s),
    }
    inference = _median_ms(lambda: session.run([contract.COLOR.name], tensors), budget_s)

    def flat_fill() -> np.ndarray:
        layer = imaging.hint_layer(size, size, s.points, s.strokes)
        return imaging.flatten_regions(rgb, gray, layer)

    return StageRow(size, size * size / 1e6, ms, inference, _median_ms(flat_fill, budget_s))


#: Flat-fill page sizes (height, width): a 2048 px square and a 3000 x 2700 studio page.
FLAT_SIZES: tuple[tuple[int, int], ...] = ((2048, 2048), (2700, 3000))
#: The heaviest stroke the default limits allow, on the largest default sketch (4000 x 3000).
HEAVY_STROKE = (4096, 1024.0, (3000, 4000))


@dataclass(frozen=True)
class FlatFillRow:
    """Median milliseconds of ``output.flat_fill`` on one page size, OpenCV on one thread."""

    height: int
    width: int
    #: Region finding (gap closing included) + fills + lines drawn over: ``flatten_regions``.
    regions_ms: float
    #: The hints painted at full size: ``hint_layer`` (8 dabs and a stroke, as the workload).
    hint_layer_ms: float
    #: Whole pixels the painted hints visited (:class:`colorizer.imaging.flatten.PaintedPixels`).
    hint_pixels: int = 0
    label: str = ""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


def measure_flat_fill(
    sizes: Sequence[tuple[int, int]] = FLAT_SIZES, *, budget_s: float, heavy: bool = True
) -> list[FlatFillRow]:
    """One :class:`FlatFillRow` per page size, then (``heavy``) one for the heaviest stroke.

    The model's colors are an upscaled random canvas (flat fill reads only their statistics per
    region). OpenCV is held to one thread: the target is per core.
    """
    with _one_opencv_thread():
        rows = [_flat_row(h, w, budget_s) for h, w in sizes]
        if heavy:
            points, width, (h, w) = HEAVY_STROKE
            rng = np.random.default_rng(4096)
            xy = tuple((float(x), float(y)) for x, y in rng.uniform(0, (w, h), (points, 2)))
            stroke = imaging.StrokeHint(xy, width, (200, 40, 40))
            rows.append(_flat_row(h, w, budget_s, (stroke,), f"1 stroke, {points} points, width {width:g}"))
        return rows


def _flat_row(
    h: int, w: int, budget_s: float, strokes: Sequence[imaging.StrokeHint] | None = None, label: str = ""
) -> FlatFillRow:
    s = workload.sample(h, w, seed=h + w)
    gray = np.asarray(cv2.imdecode(np.frombuffer(s.png, np.uint8), cv2.IMREAD_GRAYSCALE), np.uint8)
    canvas = np.random.default_rng(h).integers(0, 256, (max(1, h // 8), max(1, w // 8), 3), dtype=np.uint8)
    rgb = np.asarray(cv2.resize(canvas, (w, h), interpolation=cv2.INTER_LINEAR), np.uint8)
    points, strokes = (s.points, s.strokes) if strokes is None else ((), strokes)
    work = imaging.PaintedPixels()
    layer = imaging.hint_layer(h, w, points, strokes, work=work)
    runs = 1 if label else 3
    return FlatFillRow(
        h,
        w,
        _median_ms(lambda: imaging.flatten_regions(rgb, gray, layer), budget_s, runs),
        _median_ms(lambda: imaging.hint_layer(h, w, points, strokes), budget_s, runs),
        work.pixels,
        label,
    )


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
