"""gRPC server interceptors: request ids for the logs, and per-call metrics.

Both wrap each method handler's behavior, so what they set (a context variable) and measure (the
final status code) belongs to the task that runs the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import grpc

from service.logging import request_id
from service.metrics import Metrics

#: Metadata key a client may use to choose the call's request id (as in many proxies).
REQUEST_ID_METADATA = "x-request-id"

_Around = Callable[[str, grpc.aio.ServicerContext], contextlib.AbstractContextManager[None]]


def _wrap(handler: grpc.RpcMethodHandler, method: str, around: _Around) -> grpc.RpcMethodHandler:
    """``handler`` with each call's behavior run inside ``around(method, context)``."""

    def unary(inner: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with around(method, context):
                return await inner(request, context)

        return behavior

    def streaming(inner: Callable[..., Any]) -> Callable[..., Any]:
        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with around(method, context):
                result = inner(request, context)
                if inspect.isasyncgen(result):
                    async for response in result:
                        yield response
                else:  # a handler that answers with context.write() (e.g. health Watch)
                    await result

        return behavior

    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            unary(handler.unary_unary), handler.request_deserializer, handler.response_serializer
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            unary(handler.stream_unary), handler.request_deserializer, handler.response_serializer
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            streaming(handler.unary_stream), handler.request_deserializer, handler.response_serializer
        )
    return grpc.stream_stream_rpc_method_handler(
        streaming(handler.stream_stream), handler.request_deserializer, handler.response_serializer
    )


class _WrappingInterceptor(grpc.aio.ServerInterceptor):
    def around(
        self, method: str, context: grpc.aio.ServicerContext
    ) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """Wrap the handler gRPC found for this call (unknown methods pass through)."""
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        return _wrap(handler, handler_call_details.method, self.around)


class RequestIdInterceptor(_WrappingInterceptor):
    """Sets the logging request id for the call: the client's ``x-request-id`` or a new one."""

    @contextlib.contextmanager
    def around(self, method: str, context: grpc.aio.ServicerContext) -> Iterator[None]:
        """Hold the call's request id in the context variable while it runs."""
        given = dict(context.invocation_metadata() or ()).get(REQUEST_ID_METADATA)
        token = request_id.set(str(given)[:128] if given else uuid.uuid4().hex)
        try:
            yield
        finally:
            request_id.reset(token)


class MetricsInterceptor(_WrappingInterceptor):
    """Counts calls by method and final status code, and tracks calls in flight."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    @contextlib.contextmanager
    def around(self, method: str, context: grpc.aio.ServicerContext) -> Iterator[None]:
        """Count the call once it ends, with the code it ended with."""
        self._metrics.in_flight.inc()
        code = grpc.StatusCode.OK
        try:
            yield
            code = context.code() or grpc.StatusCode.OK
        except grpc.aio.AbortError:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        except BaseException as exc:
            code = (
                grpc.StatusCode.CANCELLED
                if isinstance(exc, GeneratorExit | asyncio.CancelledError)
                else grpc.StatusCode.UNKNOWN
            )
            raise
        finally:
            self._metrics.in_flight.dec()
            self._metrics.requests.labels(method=method, code=code.name).inc()


#: What a call refused by admission control is told.
OVERLOADED_MESSAGE = "server overloaded: {limit} requests already in progress; retry with backoff"


class AdmissionInterceptor(grpc.aio.ServerInterceptor):
    """Sheds calls of ``methods`` beyond ``limit`` in progress with RESOURCE_EXHAUSTED, at once.

    The batcher's queue limit alone sheds only after a request was decoded and preprocessed,
    work that waits for the image threads; under several times the capacity that made a shed
    answer take seconds and let decoded images pile up in memory. Counting calls at the door
    answers in microseconds and bounds the images held at once. A stream counts as one call (its
    items are bounded by ``stream_concurrency``).
    """

    def __init__(self, limit: int, methods: frozenset[str]) -> None:
        self._limit = limit
        self._methods = methods
        self._in_progress = 0

    @property
    def in_progress(self) -> int:
        """Guarded calls being handled now."""
        return self._in_progress

    def _admit(self) -> bool:
        # Check and count in one step: the event loop runs one behavior at a time.
        if self._in_progress >= self._limit:
            return False
        self._in_progress += 1
        return True

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """Wrap the guarded methods' handlers with the in-progress count."""
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method not in self._methods:
            return handler
        message = OVERLOADED_MESSAGE.format(limit=self._limit)

        def unary(inner: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
                if not self._admit():
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)
                try:
                    return await inner(request, context)
                finally:
                    self._in_progress -= 1

            return behavior

        def streaming(inner: Callable[..., Any]) -> Callable[..., Any]:
            async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
                if not self._admit():
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)
                try:
                    async for response in inner(request, context):
                        yield response
                finally:
                    self._in_progress -= 1

            return behavior

        ser, deser = handler.response_serializer, handler.request_deserializer
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), deser, ser)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), deser, ser)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), deser, ser)
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), deser, ser)
