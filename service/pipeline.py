"""The transport-agnostic request handler: decode -> preprocess -> batch -> infer -> postprocess.

Image work runs in thread pools (never on the event loop); inference goes through the
micro-batcher to the backend. Each stage is timed, for the response and for the metrics.

Cost: each request's cost is estimated from its declared size and options before it is decoded
(:func:`estimate_cost`). Requests at or above ``heavy_cost_mpx`` run their postprocessing on a
pool of their own (``heavy_workers`` threads, at most ``heavy_queue_mpx`` of cost admitted at once,
beyond that RESOURCE_EXHAUSTED at once), so heavy calls cannot hold the threads that decode
everyone else's images. Work whose deadline passed, or whose caller went away, stops at the next
stage boundary and between hint strokes (a :class:`_Job` is checked from the worker thread).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import cv2
import numpy as np

from colorizer import contract, encoding, imaging
from colorizer.imaging import alpha as alpha_channel
from colorizer.imaging import layers as layered
from colorizer.imaging.header import read_header
from colorizer.imaging.hints import hint_raster_bound, rasterize_hints
from colorizer.imaging.paper import keep_paper
from colorizer.imaging.spread import spread_hints
from service.backends.base import F32, Backend
from service.batching import MicroBatcher
from service.errors import (
    Code,
    ColorizerError,
    DeadlineExceededError,
    InvalidInputError,
    OverloadedError,
    ShuttingDownError,
    as_colorizer_error,
)
from service.logging import request_id
from service.metrics import Metrics
from service.settings import MIN_REQUEST_CANVAS, Settings

logger = logging.getLogger("service")

ImageFormat = Literal["png", "jpeg", "webp"]
Upscale = Literal["guided", "resize"]
_R = TypeVar("_R")


@dataclass(frozen=True)
class OutputOptions:
    """How the colored image is returned."""

    format: ImageFormat = "png"
    #: JPEG/WebP quality 1..100; 0 = the encoder's default.
    quality: int = 0
    #: Return the padded model canvas instead of the original size.
    model_size: bool = False
    #: Multiply the original line art over the result.
    overlay_lines: bool = False
    #: One color per line-bounded region (the hints' color where given), lines drawn over.
    flat_fill: bool = False
    #: Canvas colors -> original size: line-guided (edges on the lines, lines drawn over) or a resize.
    upscale: Upscale = "guided"
    #: Also return the result as layers: "psd", "zip" (PNGs), or "" for none.
    layers: str = ""
    #: Composite a transparent background on white paper (default: keep it transparent).
    paper: bool = False


@dataclass(frozen=True)
class ColorizeInput:
    """One image to colorize, as the pipeline takes it (no protobuf)."""

    request_id: str
    sketch: bytes
    extract_lines: bool = False
    points: Sequence[imaging.PointHint] = ()
    strokes: Sequence[imaging.StrokeHint] = ()
    hint_image: bytes = b""
    output: OutputOptions = field(default_factory=OutputOptions)
    #: ``time.monotonic()`` after which the result is no longer wanted.
    deadline: float | None = None
    #: Model canvas side asked for; 0 = the server's choice (:meth:`Settings.canvas_side`).
    canvas: int = 0


@dataclass(frozen=True)
class ColorizeOutput:
    """The colored image and how it was made."""

    request_id: str
    image: bytes
    format: ImageFormat
    width: int
    height: int
    model_name: str
    model_version: str
    #: Seconds per stage (keys: decode, preprocess, queue, inference, postprocess, total).
    timings: dict[str, float]
    hint_cells: int
    #: CPU seconds of the image threads per stage (keys from ``metrics.CPU_STAGES``): postprocess
    #: without encode, and encode apart, so a profile of the gateway's own cost needs no profiler.
    cpu: dict[str, float] = field(default_factory=dict)
    #: The layered file ("" format: none asked for).
    layers: bytes = b""
    layers_format: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """What the gateway serves and accepts."""

    model_name: str
    model_version: str
    input_size: int
    size_multiple: int
    hint_scale: int
    backend: str
    max_batch_size: int
    limits: imaging.InputLimits
    max_canvas: int
    canvas_step: int


@dataclass(frozen=True)
class _Prepared:
    gray: np.ndarray
    fitted: np.ndarray
    canvas: imaging.Canvas
    sketch: F32
    hint: F32
    hint_cells: int
    hint_rgba: np.ndarray | None
    #: The sketch's alpha [H, W] (None: opaque).
    alpha: np.ndarray | None = None
    #: The hint map as the user gave it (``hint`` may be spread): where the page is.
    given: F32 | None = None


# A batch item: sketch [1,H,W], hint [4,h,w], deadline.
_Payload = tuple[F32, F32, "float | None"]


#: How much earlier than the gateway's copy of a deadline the client's own may pass (transit).
DEADLINE_SKEW_S = 0.25

#: Cost of a flat fill per pixel, in passes over the image (decode + resize + encode = 1).
FLAT_FILL_PASSES = 20


def estimate_cost(item: ColorizeInput, height: int, width: int, limits: imaging.InputLimits) -> float:
    """About how many pixel passes ``item`` costs on a ``height`` x ``width`` sketch (an upper bound).

    Pixels x options, plus, for a flat fill, what painting its hints at full size may cost
    (:func:`colorizer.imaging.hints.hint_raster_bound`: a wide stroke costs at most its bounding
    area). O(number of hints): it runs on the event loop, before any work.
    """
    pixels = float(height * width)
    if not (item.output.flat_fill or item.output.layers):  # both paint the hints and the regions
        return pixels
    hints = hint_raster_bound(height, width, item.points, item.strokes, 2 * limits.max_radius)
    return pixels * (1 + FLAT_FILL_PASSES) + hints


class WorkCancelled(ColorizerError):
    """The caller went away; the work stopped."""

    code = Code.CANCELLED


class _Job:
    """What a worker thread checks to learn that its request's work is no longer wanted."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Ask the thread to stop at its next check (thread-safe)."""
        self._cancelled.set()

    def check(self) -> None:
        """Raise if the work should stop (called from the worker thread)."""
        if self._cancelled.is_set():
            raise WorkCancelled("the call was cancelled")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlineExceededError("deadline exceeded")


class Pipeline:
    """Colorizes :class:`ColorizeInput` items; shared by every RPC of one server."""

    def __init__(self, settings: Settings, backend: Backend, metrics: Metrics) -> None:
        self._settings = settings
        self._backend = backend
        self._metrics = metrics
        self._limits = settings.limits()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._heavy_executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._heavy_threshold = settings.heavy_cost_mpx * 1e6
        self._heavy_budget = settings.heavy_queue_mpx * 1e6
        self._heavy_admitted = 0.0
        # Thread work not yet finished, with the job that can stop it (for stop()).
        self._running: dict[concurrent.futures.Future[Any], _Job] = {}
        self.abandoned = 0
        # One batcher per canvas side (a batch is one tensor shape); made on first use, so at most
        # one per multiple of the stride in the canvas range.
        self._batchers: dict[int, MicroBatcher[_Payload, F32]] = {}
        self._started = False

    def _new_batcher(self) -> MicroBatcher[_Payload, F32]:
        settings, backend = self._settings, self._backend
        if settings.batch_in_gateway():
            size, wait_s = settings.max_batch_size, settings.max_wait_ms / 1000
            concurrency = backend.max_concurrent_batches
        else:
            # One item per call, many calls at once: the backend (Triton's dynamic batcher) batches.
            size, wait_s = 1, 0.0
            concurrency = backend.max_concurrent_batches * settings.max_batch_size
        return MicroBatcher(
            self._run_batch,
            max_batch_size=size,
            max_wait_s=wait_s,
            max_queue=settings.max_queue,
            max_concurrent_batches=concurrency,
            on_batch=self._metrics.batch_size.observe,
        )

    async def _batcher_for(self, side: int) -> MicroBatcher[_Payload, F32]:
        batcher = self._batchers.get(side)
        if batcher is None:
            if not self._started:
                raise ColorizerError("pipeline not started")
            batcher = self._batchers[side] = self._new_batcher()
            await batcher.start()
        return batcher

    async def start(self) -> None:
        """Start the image threads and the batcher of the smallest canvas."""
        if self._settings.opencv_threads:  # process-wide: the image threads are OpenCV's only users
            cv2.setNumThreads(self._settings.opencv_threads)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            self._settings.worker_threads(), thread_name_prefix="image"
        )
        self._heavy_executor = concurrent.futures.ThreadPoolExecutor(
            self._settings.heavy_workers, thread_name_prefix="heavy"
        )
        self._started = True
        await self._batcher_for(self._settings.input_size)
        self._metrics.track_queue_depth(lambda: sum(b.depth for b in list(self._batchers.values())))

    async def stop(self) -> None:
        """Finish running batches, fail queued items, stop the threads (a bounded wait).

        Image work still running is told to stop and given ``thread_stop_wait_s``; what is still
        running after that (one long native call) is left behind and counted in
        :attr:`abandoned`, so that the process can exit anyway.
        """
        self._started = False
        for batcher in list(self._batchers.values()):
            await batcher.stop()
        running_now = list(self._running.items())  # a copy: worker threads remove their entries
        for _, job in running_now:
            job.cancel()
        for pool in (self._executor, self._heavy_executor):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        running = [asyncio.wrap_future(f) for f, _ in running_now if not f.done()]
        if running:
            _, pending = await asyncio.wait(running, timeout=self._settings.thread_stop_wait_s)
            self.abandoned = len(pending)
            if pending:
                logger.warning("%d image tasks still running at shutdown: abandoned", len(pending))
        self._executor = self._heavy_executor = None

    def model_info(self) -> ModelInfo:
        """The served model and the limits, from the settings and the backend."""
        return ModelInfo(
            model_name=self._backend.model_name,
            model_version=self._backend.model_version,
            input_size=self._settings.input_size,
            size_multiple=contract.STRIDE,
            hint_scale=contract.HINT_SCALE,
            backend=self._backend.name,
            max_batch_size=self._settings.max_batch_size,
            limits=self._limits,
            max_canvas=self._settings.max_canvas,
            canvas_step=self._settings.canvas_step,
        )

    async def colorize(self, item: ColorizeInput) -> ColorizeOutput:
        """Colorize one image; raises only :class:`ColorizerError` (with a client-safe message)."""
        request_id.set(item.request_id)  # the log lines of this item carry its id
        try:
            result = await self._colorize(item)
        except asyncio.CancelledError:
            # gRPC cancels a call whose deadline passed: its client saw DEADLINE_EXCEEDED.
            # (Within the skew: the client's deadline runs earlier than ours by the transit time.)
            late = item.deadline is not None and time.monotonic() >= item.deadline - DEADLINE_SKEW_S
            self._metrics.items.labels(code=(Code.DEADLINE_EXCEEDED if late else Code.CANCELLED).name).inc()
            raise

        except Exception as exc:
            error = as_colorizer_error(exc)
            if error is not exc and not isinstance(exc, imaging.ImageInputError):
                logger.exception("unexpected error colorizing %s", item.request_id)
            self._metrics.items.labels(code=error.code.name).inc()
            raise error from exc
        self._metrics.items.labels(code=Code.OK.name).inc()
        self._metrics.observe_stages(result.timings)
        self._metrics.add_cpu(result.cpu)
        return result

    async def _colorize(self, item: ColorizeInput) -> ColorizeOutput:
        started = time.monotonic()
        _check_output(item.output)
        self._check_canvas(item.canvas)
        job = _Job(item.deadline)
        timings: dict[str, float] = {}
        cpu: dict[str, float] = {}
        cost = self._estimate(item)
        heavy = cost >= self._heavy_threshold
        if heavy:
            self._admit_heavy(cost)
        try:
            mark = time.monotonic()
            gray, alpha, hint_rgba = await self._in_thread(
                self._executor, job, _on_cpu(cpu, "decode", self._decode), item, job
            )
            timings["decode"] = time.monotonic() - mark

            mark = time.monotonic()
            prepared = await self._in_thread(
                self._executor,
                job,
                _on_cpu(cpu, "preprocess", self._preprocess),
                item,
                gray,
                hint_rgba,
                alpha,
            )
            timings["preprocess"] = time.monotonic() - mark

            job.check()
            batcher = await self._batcher_for(prepared.canvas.size)
            payload = (prepared.sketch, prepared.hint, item.deadline)
            done = await batcher.submit(payload, deadline=item.deadline)
            timings["queue"] = done.queue_s
            timings["inference"] = done.run_s

            mark = time.monotonic()
            pool = self._heavy_executor if heavy else self._executor
            image, width, height, layers = await self._in_thread(
                pool,
                job,
                _on_cpu(cpu, "postprocess", self._postprocess),
                done.value,
                prepared,
                item,
                job,
                cpu,
            )
            timings["postprocess"] = time.monotonic() - mark
        finally:
            if heavy:
                self._heavy_admitted -= cost
        timings["total"] = time.monotonic() - started
        logger.debug(
            "colorized %dx%d in %.1f ms (batch of %d)",
            width,
            height,
            timings["total"] * 1000,
            done.batch_size,
        )
        return ColorizeOutput(
            request_id=item.request_id,
            image=image,
            format=item.output.format,
            width=width,
            height=height,
            model_name=self._backend.model_name,
            model_version=self._backend.model_version,
            timings=timings,
            hint_cells=prepared.hint_cells,
            cpu=cpu,
            layers=layers,
            layers_format=item.output.layers,
        )

    def _estimate(self, item: ColorizeInput) -> float:
        try:
            header = read_header(item.sketch)
        except imaging.ImageInputError:
            return 0.0  # refused by decoding, with its message
        if not 0 < header.width * header.height <= self._limits.max_sketch_pixels:
            return 0.0
        return estimate_cost(item, header.height, header.width, self._limits)

    def _admit_heavy(self, cost: float) -> None:
        # One heavy request is always admitted when none runs, however large (within the limits).
        if self._heavy_admitted > 0 and self._heavy_admitted + cost > self._heavy_budget:
            raise OverloadedError(
                f"server busy with heavy requests (estimated cost {cost / 1e6:.0f} Mpx-passes, "
                f"{self._heavy_admitted / 1e6:.0f} of {self._heavy_budget / 1e6:.0f} admitted: "
                "heavy_queue_mpx); retry with backoff"
            )
        self._heavy_admitted += cost

    async def _in_thread(
        self,
        pool: concurrent.futures.ThreadPoolExecutor | None,
        job: _Job,
        fn: Callable[..., _R],
        *args: object,
    ) -> _R:
        """``fn(*args)`` in ``pool``; on the deadline or on cancellation, ``job`` is told to stop."""
        if pool is None:
            raise ShuttingDownError("the server is shutting down")
        job.check()
        future = pool.submit(fn, *args)
        self._running[future] = job
        # Runs in the worker thread; a dict pop is atomic.
        future.add_done_callback(lambda f: self._running.pop(f, None))
        timeout = None if job.deadline is None else max(0.0, job.deadline - time.monotonic())
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            job.cancel()  # wait_for cancelled the future: not started = never runs
            raise DeadlineExceededError("deadline exceeded") from None
        except asyncio.CancelledError:
            job.cancel()
            raise

    def _decode(
        self, item: ColorizeInput, job: _Job
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        gray, alpha = imaging.decode_sketch_alpha(item.sketch, self._limits, extract=item.extract_lines)
        job.check()
        hint_rgba = (
            imaging.decode_hint_image(item.hint_image, (gray.shape[0], gray.shape[1]), self._limits)
            if item.hint_image
            else None
        )
        return gray, alpha, hint_rgba

    def _preprocess(
        self,
        item: ColorizeInput,
        gray: np.ndarray,
        hint_rgba: np.ndarray | None,
        alpha: np.ndarray | None = None,
    ) -> _Prepared:
        side = self._settings.canvas_side(gray.shape[0], gray.shape[1], item.canvas)
        fitted, canvas = imaging.fit_sketch(gray, side)
        hint, cells = imaging.build_hint_map(canvas, item.points, item.strokes, hint_rgba, self._limits)
        given = hint
        if self._settings.hint_spread_cells:
            # The model sees each hint over its closed region; ``cells`` still counts the user's.
            hint = spread_hints(hint, fitted, self._settings.hint_spread_cells)
        sketch = encoding.encode_sketch(fitted)
        return _Prepared(gray, fitted, canvas, sketch, hint, cells, hint_rgba, alpha, given)

    def _postprocess(
        self, color: F32, prepared: _Prepared, item: ColorizeInput, job: _Job, cpu: dict[str, float]
    ) -> tuple[bytes, int, int, bytes]:
        output = item.output
        rgb = encoding.decode_color(color)
        if self._settings.keep_paper and prepared.given is not None:
            # On the canvas, before any upscale: the page read from the user's own hints.
            rgb = keep_paper(rgb, prepared.fitted, prepared.given)
        lines = prepared.fitted
        guided = False
        if not output.model_size:
            canvas = prepared.canvas
            lines = prepared.gray
            if output.upscale == "guided" and not output.flat_fill:
                rgb, guided = imaging.guided_restore(rgb, canvas, lines), True
            else:
                rgb = imaging.restore_size(rgb, canvas)
        job.check()
        colors, flats, hints = rgb, None, None
        if output.flat_fill or output.layers:  # original size only (both checked on arrival)
            h, w = lines.shape
            # Cost bounded by the pixels the hints cover, checked between strokes.
            hints = rasterize_hints(h, w, item.points, item.strokes, prepared.hint_rgba, check=job.check)
            job.check()
            flats = imaging.flatten_regions(
                rgb,
                lines,
                hints,
                gap=self._settings.flat_fill_gap_px,
                paper=self._settings.flat_fill_paper,
                # the source's transparent background is paper too (not only the border)
                background=None if prepared.alpha is None else prepared.alpha == 0,
                draw_lines=False,
            )
        if output.flat_fill and flats is not None:
            rgb = imaging.overlay_lines(flats, lines)  # the lines over the fills, as flatten draws them
        elif output.overlay_lines or guided:  # the guided colors leave the lines to the sketch
            rgb = imaging.overlay_lines(rgb, lines)
        job.check()
        mark = time.thread_time()
        image, layers = _encode_output(rgb, colors, flats, lines, hints, prepared, output, self._settings)
        # Counted apart; _on_cpu subtracts it from postprocess.
        cpu["encode"] = time.thread_time() - mark
        return image, rgb.shape[1], rgb.shape[0], layers

    def _check_canvas(self, canvas: int) -> None:
        low, high = MIN_REQUEST_CANVAS, self._settings.max_canvas
        if canvas and (canvas % contract.STRIDE or not low <= canvas <= high):
            raise InvalidInputError(
                f"canvas={canvas} must be 0 (the server's choice) or a multiple of {contract.STRIDE} "
                f"in {low}..{high}"
            )

    async def _run_batch(self, items: list[_Payload]) -> list[F32]:
        sketch = np.stack([s for s, _, _ in items])
        hint = np.stack([h for _, h, _ in items])
        deadlines = [d for _, _, d in items]
        # The batch may run until its latest item's deadline; earlier ones were checked already.
        timeout = None if None in deadlines else max(d for d in deadlines if d is not None) - time.monotonic()
        try:
            color = await self._backend.infer(sketch, hint, timeout_s=timeout)
        except ColorizerError as exc:
            self._metrics.backend_errors.labels(kind=exc.code.name).inc()
            raise
        except Exception:
            self._metrics.backend_errors.labels(kind=Code.INTERNAL.name).inc()
            raise
        return list(color)


def _on_cpu(cpu: dict[str, float], stage: str, fn: Callable[..., _R]) -> Callable[..., _R]:
    """``fn`` recording its thread's CPU seconds in ``cpu[stage]`` (less any stage it recorded
    itself, e.g. encode inside postprocess), when it returns."""

    def run(*args: object) -> _R:
        start, inner = time.thread_time(), sum(cpu.values())
        result = fn(*args)
        cpu[stage] = time.thread_time() - start - (sum(cpu.values()) - inner)
        return result

    return run


def _check_output(output: OutputOptions) -> None:
    if output.upscale not in ("guided", "resize"):
        raise InvalidInputError(f"output.upscale {output.upscale!r} is not one of guided, resize")
    if output.format not in ("png", "jpeg", "webp"):
        raise InvalidInputError(f"output.format {output.format!r} is not one of png, jpeg, webp")
    if not 0 <= output.quality <= 100:
        raise InvalidInputError(f"output.quality={output.quality} is outside 0..100")
    if output.flat_fill and output.model_size:
        raise InvalidInputError(
            "output.flat_fill works on the original-size image; it cannot be combined with output.size MODEL"
        )
    if output.layers not in ("", *layered.LAYERS_FORMATS):
        raise InvalidInputError(f"output.layers {output.layers!r} is not one of psd, zip")
    if output.layers and output.model_size:
        raise InvalidInputError(
            "output.layers works on the original-size image; it cannot be combined with output.size MODEL"
        )


def _encode_output(
    rgb: np.ndarray,
    colors: np.ndarray,
    flats: np.ndarray | None,
    lines: np.ndarray,
    hints: np.ndarray | None,
    prepared: _Prepared,
    output: OutputOptions,
    settings: Settings,
) -> tuple[bytes, bytes]:
    """The encoded image (the sketch's transparent background kept, or on paper) and the layered
    file ("" unless asked for): the model's ``colors``, the ``flats`` without lines, the line art."""
    alpha = _output_alpha(prepared, output.model_size)
    if alpha is not None and output.paper:  # asked for paper: the background turns white, layers too
        rgb, colors = alpha_channel.on_paper(rgb, alpha), alpha_channel.on_paper(colors, alpha)
        flats = None if flats is None else alpha_channel.on_paper(flats, alpha)
        alpha = None
    pixels = (
        alpha_channel.on_paper(rgb, alpha)  # JPEG has no alpha channel
        if output.format == "jpeg"
        else alpha_channel.with_alpha(rgb, alpha)
    )
    image = imaging.encode_image(pixels, output.format, output.quality, settings.png_encoder)
    if not output.layers or flats is None or hints is None:
        return image, b""
    stack = layered.build_layers(colors, flats, lines, hints, alpha)
    merged = alpha_channel.with_alpha(imaging.overlay_lines(flats, lines), alpha)
    layers = layered.encode_layers(stack, merged, output.layers)  # type: ignore[arg-type]
    max_message_bytes = settings.max_message_bytes
    if len(layers) + len(image) > max_message_bytes:
        raise InvalidInputError(  # not retryable: the same request gives the same size
            f"output.layers: the layered file ({len(layers)} bytes) and the image exceed the "
            f"gateway's max_message_bytes ({max_message_bytes}); send a smaller sketch"
        )
    return image, layers


def _output_alpha(prepared: _Prepared, model_size: bool) -> np.ndarray | None:
    """The result's alpha, the sketch's transparent background kept (None: the sketch is opaque)."""
    if prepared.alpha is None:
        return None
    alpha = alpha_channel.output_alpha(prepared.alpha)
    return alpha_channel.alpha_on_canvas(alpha, prepared.canvas) if model_size else alpha
