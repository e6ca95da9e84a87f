"""gRPC server interceptors: request ids for the logs, per-call metrics, message decoding, admission.

Each wraps each method handler's behavior, so what it sets (a context variable) and measures (the
final status code) belongs to the task that runs the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from service.admission import Admission
from service.errors import ColorizerError
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
        """Count the call once it ends, with the code the client sees."""
        self._metrics.in_flight.inc()
        code = grpc.StatusCode.OK
        try:
            yield
            code = context.code() or grpc.StatusCode.OK
            if code == grpc.StatusCode.OK and _deadline_passed(context):
                # The answer comes too late: gRPC tells the client DEADLINE_EXCEEDED instead.
                code = grpc.StatusCode.DEADLINE_EXCEEDED
        except BaseException as exc:
            code = _code_of_failure(exc, context)
            raise
        finally:
            self._metrics.in_flight.dec()
            self._metrics.requests.labels(method=method, code=code.name).inc()


#: The server's deadline runs later than the client's by the request's transit time: a call the
#: client gives up on this close to the server's deadline gave up on its deadline.
DEADLINE_SKEW_S = 0.25


def _deadline_passed(context: grpc.aio.ServicerContext, skew_s: float = 0.0) -> bool:
    remaining = context.time_remaining()
    return remaining is not None and remaining <= skew_s


def _code_of_failure(exc: BaseException, context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    """The status a call that raised ``exc`` ended with, as its client saw it.

    A call whose client deadline expired is cancelled by gRPC, and what then surfaces in the
    handler varies (CancelledError, a failed send, an abort on a finished call): the client saw
    DEADLINE_EXCEEDED in every case, so that is what is counted.
    """
    cancelled = isinstance(exc, GeneratorExit | asyncio.CancelledError) or context.cancelled()
    if _deadline_passed(context, DEADLINE_SKEW_S if cancelled else 0.0):
        return grpc.StatusCode.DEADLINE_EXCEEDED
    if isinstance(exc, grpc.aio.AbortError) and context.code() is not None:
        return context.code()  # type: ignore[no-any-return]
    if cancelled:
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


@dataclass(frozen=True)
class MalformedMessage:
    """Stands for a request message that did not parse; ``reason`` says why (safe to show)."""

    reason: str

    def message(self, what: str) -> str:
        """The client-facing INVALID_ARGUMENT text for this message."""
        return f"{what} is not a valid protobuf message: {self.reason}"


class _MalformedInStream(Exception):
    def __init__(self, item: MalformedMessage) -> None:
        super().__init__(item.reason)
        self.item = item


def _guarded(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # DecodeError, UnicodeDecodeError (invalid UTF-8 in a string field)
            return MalformedMessage(f"{type(exc).__name__}: {exc}"[:200])

    return parse


class MessageDecodingInterceptor(grpc.aio.ServerInterceptor):
    """A request that does not parse gets INVALID_ARGUMENT (counted like any call), never UNKNOWN.

    gRPC's own handling of a deserializer error is an ERROR trace, UNKNOWN for a unary call, and
    for a stream an exception inside the handler's reader (a hung stream). Here the deserializer
    returns a :class:`MalformedMessage` instead: a unary call is refused with INVALID_ARGUMENT;
    a request stream is ended with INVALID_ARGUMENT, except for the methods in ``per_item``,
    whose handlers receive the :class:`MalformedMessage` items and answer each one themselves.
    """

    def __init__(self, per_item: frozenset[str]) -> None:
        self._per_item = per_item

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """The handler with a deserializer that cannot raise, and the checks that go with it."""
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        deser, ser = _guarded(handler.request_deserializer), handler.response_serializer
        per_item = handler_call_details.method in self._per_item

        async def refuse(context: grpc.aio.ServicerContext, item: MalformedMessage) -> None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, item.message("the request"))

        def unary_in(inner: Callable[..., Any], streaming_out: bool) -> Callable[..., Any]:
            if streaming_out:

                async def gen(request: Any, context: grpc.aio.ServicerContext) -> Any:
                    if isinstance(request, MalformedMessage):
                        await refuse(context, request)
                    result = inner(request, context)
                    if inspect.isasyncgen(result):
                        async for response in result:
                            yield response
                    else:  # a handler that answers with context.write() (e.g. health Watch)
                        await result

                return gen

            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                if isinstance(request, MalformedMessage):
                    await refuse(context, request)
                return await inner(request, context)

            return call

        async def checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
            async for request in requests:
                if isinstance(request, MalformedMessage):
                    raise _MalformedInStream(request)
                yield request

        def stream_in(inner: Callable[..., Any], streaming_out: bool) -> Callable[..., Any]:
            if per_item:
                return inner
            if streaming_out:

                async def gen(requests: Any, context: grpc.aio.ServicerContext) -> Any:
                    try:
                        result = inner(checked(requests), context)
                        if inspect.isasyncgen(result):
                            async for response in result:
                                yield response
                        else:
                            await result
                    except _MalformedInStream as exc:
                        await refuse(context, exc.item)

                return gen

            async def call(requests: Any, context: grpc.aio.ServicerContext) -> Any:
                try:
                    return await inner(checked(requests), context)
                except _MalformedInStream as exc:
                    await refuse(context, exc.item)

            return call

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary_in(handler.unary_unary, False), deser, ser)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(unary_in(handler.unary_stream, True), deser, ser)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(stream_in(handler.stream_unary, False), deser, ser)
        return grpc.stream_stream_rpc_method_handler(stream_in(handler.stream_stream, True), deser, ser)


_STATUS: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


def status_of(error: ColorizerError) -> grpc.StatusCode:
    """The gRPC status code of a gateway error."""
    return _STATUS[int(error.code)]


class AdmissionInterceptor(grpc.aio.ServerInterceptor):
    """Sheds Colorize calls beyond the work limit, and streams beyond the open-stream limits, at once.

    The batcher's queue limit alone sheds only after a request was decoded and preprocessed,
    work that waits for the image threads; under several times the capacity that made a shed
    answer take seconds and let decoded images pile up in memory. Counting calls at the door
    answers in microseconds and bounds the images held at once. A stream takes a stream slot
    (total and per connection); each of its items takes a work slot in the servicer while it is
    in work, so idle streams hold no work slot. While draining, both get UNAVAILABLE.
    """

    def __init__(self, admission: Admission, unary: frozenset[str], streams: frozenset[str]) -> None:
        self._admission = admission
        self._unary = unary
        self._streams = streams

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """Wrap the guarded methods' handlers with the counts."""
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method not in self._unary | self._streams:
            return handler
        admission = self._admission

        def unary(inner: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
                try:
                    admission.take_work()
                except ColorizerError as exc:
                    await context.abort(status_of(exc), str(exc))
                try:
                    return await inner(request, context)
                finally:
                    admission.release_work()

            return behavior

        def streaming(inner: Callable[..., Any]) -> Callable[..., Any]:
            async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
                peer = context.peer() or ""
                try:
                    admission.open_stream(peer)
                except ColorizerError as exc:
                    await context.abort(status_of(exc), str(exc))
                try:
                    async for response in inner(request, context):
                        yield response
                finally:
                    admission.close_stream(peer)

            return behavior

        ser, deser = handler.response_serializer, handler.request_deserializer
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), deser, ser)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), deser, ser)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), deser, ser)
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), deser, ser)
