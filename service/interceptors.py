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
