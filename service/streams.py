"""Running one bidirectional stream of work items: bounded, backpressured, with an idle timeout.

It knows nothing of gRPC or protobuf: it reads requests from an async iterator, handles up to
``concurrency`` of them at once and yields each answer as it completes. Bounds:

* at most ``concurrency`` items of a stream are in work *or answered and not yet sent*: a slot is
  given back only once the answer was taken by the transport, so a client that does not read its
  answers stops the stream's reading of its requests (HTTP/2 flow control then stops the client),
  and the server holds at most ``concurrency`` finished answers per stream;
* each item takes a work slot of the shared :class:`~service.admission.Admission` while it is in
  work; when none is free the item is answered RESOURCE_EXHAUSTED at once (the stream goes on);
* a stream with nothing in work and nothing to send that receives no request for
  ``idle_timeout_s`` ends with :class:`StreamIdleError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

from service.admission import Admission
from service.errors import ColorizerError, DeadlineExceededError, as_colorizer_error

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class StreamIdleError(DeadlineExceededError):
    """The stream sent nothing for too long while nothing of it was in work."""


class _End:
    pass


class _State(Generic[Req]):
    def __init__(self, requests: AsyncIterator[Req], idle_timeout_s: float) -> None:
        self.requests = requests
        self.idle_timeout_s = idle_timeout_s
        self.busy = 0  # items received and not yet answered on the wire
        self.last_activity = time.monotonic()

    async def receive(self) -> Req:
        """The next request; StopAsyncIteration at the end; StreamIdleError when idle too long."""
        nxt = asyncio.ensure_future(self.requests.__anext__())
        try:
            while True:
                timeout = (
                    max(0.0, self.last_activity + self.idle_timeout_s - time.monotonic())
                    if self.idle_timeout_s > 0
                    else None
                )
                done, _ = await asyncio.wait({nxt}, timeout=timeout)
                if done:
                    request = nxt.result()
                    self.last_activity = time.monotonic()
                    return request
                if self.busy > 0:  # the client waits for answers: not idle
                    self.last_activity = time.monotonic()
                    continue
                raise StreamIdleError(
                    f"stream idle: no request for {self.idle_timeout_s:g} s with nothing in work "
                    "(stream_idle_timeout_s)"
                )
        finally:
            if not nxt.done():
                nxt.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
                    await nxt
            elif not nxt.cancelled():
                nxt.exception()  # retrieved: no "exception was never retrieved" at exit


async def run_stream(
    requests: AsyncIterator[Req],
    handle: Callable[[Req], Awaitable[Resp]],
    refuse: Callable[[Req, ColorizerError], Resp],
    *,
    admission: Admission,
    concurrency: int,
    idle_timeout_s: float,
) -> AsyncIterator[Resp]:
    """Answer every request of ``requests`` (``handle``, or ``refuse`` when no work slot is free).

    ``handle`` should answer errors itself; one it raises is answered with ``refuse``. Raises
    :class:`StreamIdleError` (or what reading the requests raised) after the answers so far.
    """
    state = _State(requests, idle_timeout_s)
    answers: asyncio.Queue[Resp | _End] = asyncio.Queue()
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def one(request: Req) -> None:
        try:
            answer = await handle(request)
        except Exception as exc:
            answer = refuse(request, as_colorizer_error(exc))
        await answers.put(answer)

    def finished(task: asyncio.Task[None]) -> None:
        # A callback, not a finally: it runs even for a task cancelled before it started.
        tasks.discard(task)
        admission.release_work()

    async def read() -> None:
        try:
            while True:
                await slots.acquire()
                try:
                    request = await state.receive()
                except BaseException:
                    slots.release()
                    raise
                state.busy += 1
                try:
                    admission.take_work()
                except ColorizerError as exc:
                    await answers.put(refuse(request, exc))
                    continue
                task = asyncio.create_task(one(request))
                tasks.add(task)
                task.add_done_callback(finished)
        except StopAsyncIteration:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            answers.put_nowait(_End())

    reader = asyncio.create_task(read(), name="stream-reader")
    try:
        while not isinstance(answer := await answers.get(), _End):
            yield answer
            # The transport took it: one slot fewer held by this stream.
            state.busy -= 1
            state.last_activity = time.monotonic()
            slots.release()
        await reader  # raises what ended the reading, if anything did
    finally:
        for task in (reader, *tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(reader, *tasks, return_exceptions=True)
