"""The Colorizer gRPC servicer: protobuf <-> pipeline types, and errors -> gRPC status, once."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from colorizer import imaging
from service.admission import Admission
from service.errors import ColorizerError, InvalidInputError, as_colorizer_error
from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc
from service.interceptors import MalformedMessage
from service.logging import request_id as request_id_var
from service.pipeline import ColorizeInput, ColorizeOutput, ImageFormat, OutputOptions, Pipeline
from service.streams import run_stream

logger = logging.getLogger("service")

_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")

_FORMATS: dict[int, ImageFormat] = {
    pb.IMAGE_FORMAT_UNSPECIFIED: "png",
    pb.IMAGE_FORMAT_PNG: "png",
    pb.IMAGE_FORMAT_JPEG: "jpeg",
    pb.IMAGE_FORMAT_WEBP: "webp",
}
#: Unknown values pass through as text, which the pipeline refuses naming output.upscale.
_UPSCALES = {pb.UPSCALE_UNSPECIFIED: "guided", pb.UPSCALE_GUIDED: "guided", pb.UPSCALE_RESIZE: "resize"}
_FORMAT_ENUM: dict[str, int] = {
    "png": pb.IMAGE_FORMAT_PNG,
    "jpeg": pb.IMAGE_FORMAT_JPEG,
    "webp": pb.IMAGE_FORMAT_WEBP,
}
_LAYERS: dict[int, str] = {
    pb.LAYERS_FORMAT_UNSPECIFIED: "",
    pb.LAYERS_FORMAT_PSD: "psd",
    pb.LAYERS_FORMAT_ZIP: "zip",
}
_LAYERS_ENUM: dict[str, int] = {name: value for value, name in _LAYERS.items()}
_STATUS: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}
MAX_REQUEST_ID_CHARS = 128


def grpc_errors(
    method: Callable[[Any, _Req, grpc.aio.ServicerContext], Awaitable[_Resp]],
) -> Callable[[Any, _Req, grpc.aio.ServicerContext], Awaitable[_Resp]]:
    """Answer a unary RPC's :class:`ColorizerError` with its status code and message (never a trace)."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: _Req, context: grpc.aio.ServicerContext) -> _Resp:
        try:
            return await method(self, request, context)
        except Exception as exc:
            error = as_colorizer_error(exc)
            if error is not exc and not isinstance(exc, imaging.ImageInputError):
                logger.exception("unexpected error in %s", method.__name__)
            await context.abort(_STATUS[error.code], str(error))
            raise  # unreachable: abort raises

    return wrapper


class ColorizerServicer(pb_grpc.ColorizerServicer):
    """The colorizer.v1.Colorizer service over a :class:`Pipeline`."""

    def __init__(
        self,
        pipeline: Pipeline,
        admission: Admission,
        *,
        stream_concurrency: int,
        stream_idle_timeout_s: float,
    ) -> None:
        self._pipeline = pipeline
        self._admission = admission
        self._stream_concurrency = stream_concurrency
        self._stream_idle_timeout_s = stream_idle_timeout_s

    @grpc_errors
    async def Colorize(
        self, request: pb.ColorizeRequest, context: grpc.aio.ServicerContext
    ) -> pb.ColorizeResponse:
        """Colorize one sketch."""
        return to_response(await self._pipeline.colorize(await _to_input(request, _deadline(context))))

    async def ColorizeStream(
        self,
        request_iterator: AsyncIterator[pb.ColorizeRequest | MalformedMessage],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.ColorizeStreamResponse]:
        """Colorize the items concurrently (bounded: service.streams); answer each as it completes."""
        deadline = _deadline(context)

        async def handle(request: pb.ColorizeRequest | MalformedMessage) -> pb.ColorizeStreamResponse:
            if isinstance(request, MalformedMessage):
                return _item_error("", InvalidInputError(request.message("this stream item")))
            rid = _request_id(request)
            request_id_var.set(rid)  # this task's own context copy
            try:
                result = await self._pipeline.colorize(await _to_input(request, deadline, rid))
            except Exception as exc:
                return _item_error(rid, as_colorizer_error(exc))
            return pb.ColorizeStreamResponse(request_id=rid, result=to_response(result))

        def refuse(
            request: pb.ColorizeRequest | MalformedMessage, error: ColorizerError
        ) -> pb.ColorizeStreamResponse:
            rid = "" if isinstance(request, MalformedMessage) else _request_id(request)
            return _item_error(rid, error)

        answers = run_stream(
            request_iterator,
            handle,
            refuse,
            admission=self._admission,
            concurrency=self._stream_concurrency,
            idle_timeout_s=self._stream_idle_timeout_s,
        )
        try:
            async for answer in answers:
                yield answer
        except ColorizerError as exc:
            await context.abort(_STATUS[exc.code], str(exc))

    @grpc_errors
    async def GetModelInfo(
        self, request: pb.GetModelInfoRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelInfo:
        """Describe the served model and the limits."""
        info = self._pipeline.model_info()
        limits = info.limits
        return pb.ModelInfo(
            model_name=info.model_name,
            model_version=info.model_version,
            input_size=info.input_size,
            size_multiple=info.size_multiple,
            hint_scale=info.hint_scale,
            backend=info.backend,
            max_batch_size=info.max_batch_size,
            max_canvas=info.max_canvas,
            canvas_step=info.canvas_step,
            limits=pb.Limits(
                max_sketch_bytes=limits.max_sketch_bytes,
                max_sketch_pixels=limits.max_sketch_pixels,
                max_points=limits.max_points,
                max_strokes=limits.max_strokes,
                max_stroke_points=limits.max_stroke_points,
                max_hint_image_bytes=limits.max_hint_image_bytes,
                max_radius=limits.max_radius,
            ),
        )


def _item_error(rid: str, error: ColorizerError) -> pb.ColorizeStreamResponse:
    return pb.ColorizeStreamResponse(
        request_id=rid, error=pb.ItemError(code=int(error.code), message=str(error))
    )


def _deadline(context: grpc.aio.ServicerContext) -> float | None:
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


def _request_id(request: pb.ColorizeRequest) -> str:
    return request.request_id[:MAX_REQUEST_ID_CHARS] or uuid.uuid4().hex


def _color(message: Any, owner: str, field: str = "color") -> tuple[int, int, int]:
    if not message.HasField(field):
        raise InvalidInputError(f"{owner}.{field} is required")
    color = getattr(message, field)
    return (color.r, color.g, color.b)


#: Hint points beyond which a request is converted off the event loop (~1 s per million points).
_POINTS_ON_LOOP = 10_000


async def _to_input(
    request: pb.ColorizeRequest, deadline: float | None, rid: str | None = None
) -> ColorizeInput:
    points = len(request.points) + sum(len(s.points) for s in request.strokes)
    if points <= _POINTS_ON_LOOP:
        return to_input(request, deadline, rid)
    # A request with a million stroke points would stall every other call (and health) for ~1 s.
    return await asyncio.to_thread(to_input, request, deadline, rid)


def to_input(request: pb.ColorizeRequest, deadline: float | None, rid: str | None = None) -> ColorizeInput:
    """The pipeline's input for ``request`` (enums and required fields checked here)."""
    rid = rid or _request_id(request)
    if request.output.format not in _FORMATS:
        raise InvalidInputError(f"output.format={request.output.format} is not a known ImageFormat")
    if request.output.size not in (pb.OUTPUT_SIZE_UNSPECIFIED, pb.OUTPUT_SIZE_ORIGINAL, pb.OUTPUT_SIZE_MODEL):
        raise InvalidInputError(f"output.size={request.output.size} is not a known OutputSize")
    if request.output.layers not in _LAYERS:
        raise InvalidInputError(f"output.layers={request.output.layers} is not a known LayersFormat")
    if request.sketch_mode not in (pb.SKETCH_MODE_UNSPECIFIED, pb.SKETCH_MODE_LINES, pb.SKETCH_MODE_EXTRACT):
        raise InvalidInputError(f"sketch_mode={request.sketch_mode} is not a known SketchMode")
    points = tuple(
        imaging.PointHint(x=p.x, y=p.y, rgb=_color(p, f"points[{i}]"), radius=p.radius)
        for i, p in enumerate(request.points)
    )
    strokes = tuple(
        imaging.StrokeHint(
            points=tuple((q.x, q.y) for q in s.points), width=s.width, rgb=_color(s, f"strokes[{i}]")
        )
        for i, s in enumerate(request.strokes)
    )
    return ColorizeInput(
        request_id=rid,
        sketch=request.sketch,
        extract_lines=request.sketch_mode == pb.SKETCH_MODE_EXTRACT,
        points=points,
        strokes=strokes,
        hint_image=request.hint_image,
        output=OutputOptions(
            format=_FORMATS[request.output.format],
            quality=request.output.quality,
            model_size=request.output.size == pb.OUTPUT_SIZE_MODEL,
            overlay_lines=request.output.overlay_lines,
            flat_fill=request.output.flat_fill,
            upscale=_UPSCALES.get(request.output.upscale, str(request.output.upscale)),  # type: ignore[arg-type]
            layers=_LAYERS[request.output.layers],
            paper=request.output.paper,
        ),
        deadline=deadline,
        canvas=request.canvas,
    )


def to_response(result: ColorizeOutput) -> pb.ColorizeResponse:
    """The protobuf response for a pipeline result (timings in milliseconds)."""
    ms = {stage: seconds * 1000.0 for stage, seconds in result.timings.items()}
    return pb.ColorizeResponse(
        request_id=result.request_id,
        image=result.image,
        format=_FORMAT_ENUM[result.format],  # type: ignore[arg-type]
        width=result.width,
        height=result.height,
        model_name=result.model_name,
        model_version=result.model_version,
        timings=pb.StageTimings(
            decode_ms=ms.get("decode", 0.0),
            preprocess_ms=ms.get("preprocess", 0.0),
            queue_ms=ms.get("queue", 0.0),
            inference_ms=ms.get("inference", 0.0),
            postprocess_ms=ms.get("postprocess", 0.0),
            total_ms=ms.get("total", 0.0),
        ),
        hint_cells=result.hint_cells,
        layers=result.layers,
        layers_format=_LAYERS_ENUM[result.layers_format],  # type: ignore[arg-type]
    )
