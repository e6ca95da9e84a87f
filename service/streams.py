"""Running one bidirectional stream of work items: bounded, backpressured, with an idle timeout.

It knows nothing of gRPC or protobuf: it reads requests from an async iterator, handles up to
``concurrency`` of them at once and yields each answer as it completes. Bounds:

* at most ``concurrency`` items of a stream are in work *or answered and not yet sent*: a slot is
  given back only once the answer was taken by the transport, so a client that does not read its
  answers stops the stream's reading of its requests (HTTP/2 flow control then stops the client),
  and the server holds at most ``concurrency`` finished answers per stream;
* each item takes a work slot of the shared :class:`~service.admission.Admission` while it is in
  work and until its answer is sent; when none is free the item is answered RESOURCE_EXHAUSTED at
  once (the stream goes on). So all streams together hold at most ``max_in_flight`` items and
  answers, whatever their clients read;
* a stream with nothing in work and nothing to send that receives no request for
  ``idle_timeout_s`` ends with :class:`StreamIdleError`; one whose oldest answer stays unread for
  ``idle_timeout_s`` is cancelled (its client stopped reading), which frees its slots.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

from service.admission import Admission
from service.errors import ColorizerError, DeadlineExceededError, as_colorizer_error

logger = logging.getLogger("service")

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
    An answer the client leaves unread for ``idle_timeout_s`` cancels the stream.
    """
    state = _State(requests, idle_timeout_s)
    # (answer, whether it holds a work slot, when it was ready)
    answers: asyncio.Queue[tuple[Resp, bool, float] | _End] = asyncio.Queue()
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()
    held = 0  # work slots this stream holds: items in work, and answers not yet sent
    unsent: collections.deque[float] = collections.deque()  # when each queued answer was ready

    def ready(answer: Resp, slot: bool) -> None:
        now = time.monotonic()
        unsent.append(now)
        answers.put_nowait((answer, slot, now))

    async def one(request: Req) -> None:
        try:
            answer = await handle(request)
        except Exception as exc:
            answer = refuse(request, as_colorizer_error(exc))
        ready(answer, True)

    async def read() -> None:
        nonlocal held
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
                    ready(refuse(request, exc), False)
                    continue
                held += 1
                task = asyncio.create_task(one(request))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except StopAsyncIteration:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            answers.put_nowait(_End())

    async def watchdog(owner: asyncio.Task[Any]) -> None:
        # The generator waits in ``yield`` while gRPC cannot send (the client does not read): an
        # answer ready for longer than the idle timeout means a client gone quiet; cancel the
        # call so that its slots and answers are freed.
        while True:
            await asyncio.sleep(max(0.05, idle_timeout_s / 4))
            if unsent and time.monotonic() - unsent[0] > idle_timeout_s:
                logger.info("stream cancelled: an answer unread for %.1f s", idle_timeout_s)
                owner.cancel()
                return

    owner = asyncio.current_task()
    guard = asyncio.create_task(watchdog(owner)) if idle_timeout_s > 0 and owner is not None else None
    reader = asyncio.create_task(read(), name="stream-reader")
    try:
        while not isinstance(item := await answers.get(), _End):
            answer, slot, _ = item
            yield answer
            # The transport took it: its memory and its slots are free.
            unsent.popleft()
            if slot:
                held -= 1
                admission.release_work()
            state.busy -= 1
            state.last_activity = time.monotonic()
            slots.release()
        await reader  # raises what ended the reading, if anything did
    finally:
        for task in (reader, *tasks, *([guard] if guard else [])):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(reader, *tasks, *([guard] if guard else []), return_exceptions=True)
        for _ in range(held):
            admission.release_work()
