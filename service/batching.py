"""An asyncio micro-batcher: groups single work items into batches for one async function.

It knows nothing of gRPC or of backends. Items wait in a bounded queue (created on the running
loop); a batch closes when it is full or ``max_wait_s`` after its first item arrived, or, while
every batch slot is busy, as soon as a slot frees (so batches grow with load). Each batch runs as
its own task; its results, or its error, go to one future per item.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from service.errors import DeadlineExceededError, OverloadedError, ShuttingDownError

logger = logging.getLogger("service")

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Completed(Generic[R]):
    """One item's result, with where its time went."""

    value: R
    #: Seconds from submission until its batch started running.
    queue_s: float
    #: Seconds its batch's function ran.
    run_s: float
    batch_size: int


@dataclass
class _Item(Generic[T, R]):
    payload: T
    future: asyncio.Future[Completed[R]]
    deadline: float | None
    submitted: float


class MicroBatcher(Generic[T, R]):
    """Batches items submitted one at a time and runs ``run_batch`` on each batch.

    ``run_batch`` takes the payloads and returns one result per payload, in order. Deadlines are
    ``time.monotonic()`` values; an item whose deadline has passed when its batch forms is
    answered with :class:`DeadlineExceededError` and not run. ``on_batch`` is told each batch size.
    """

    def __init__(
        self,
        run_batch: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        max_batch_size: int,
        max_wait_s: float,
        max_queue: int,
        max_concurrent_batches: int = 1,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch_size < 1 or max_queue < 1 or max_concurrent_batches < 1:
            raise ValueError("max_batch_size, max_queue and max_concurrent_batches must be >= 1")
        self._run_batch = run_batch
        self._max_batch_size = max_batch_size
        self._max_wait_s = max_wait_s
        self._max_queue = max_queue
        self._max_concurrent = max_concurrent_batches
        self._on_batch = on_batch
        # Created in start(), on the loop that will use them.
        self._queue: asyncio.Queue[_Item[T, R]] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._batches: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def depth(self) -> int:
        """Items waiting in the queue (not yet in a running batch)."""
        return self._queue.qsize() if self._queue is not None else 0

    async def start(self) -> None:
        """Create the queue and start forming batches, on the running loop."""
        if self._consumer is not None:
            return
        self._queue = asyncio.Queue(self._max_queue)
        self._slots = asyncio.Semaphore(self._max_concurrent)
        self._consumer = asyncio.create_task(self._form_batches(), name="micro-batcher")

    async def submit(self, payload: T, *, deadline: float | None = None) -> Completed[R]:
        """Queue one item and wait for its result.

        Raises :class:`OverloadedError` at once when the queue is full, and
        :class:`ShuttingDownError` once the batcher is stopping.
        """
        if self._queue is None or self._closed:
            raise ShuttingDownError("the server is shutting down")
        item: _Item[T, R] = _Item(
            payload, asyncio.get_running_loop().create_future(), deadline, time.monotonic()
        )
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            raise OverloadedError(
                f"server overloaded: {self._max_queue} requests already queued; retry with backoff"
            ) from None
        return await item.future

    async def stop(self) -> None:
        """Stop taking items, let running batches finish, and fail what is still queued."""
        self._closed = True
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
            self._consumer = None
        if self._batches:
            await asyncio.gather(*self._batches, return_exceptions=True)
        while self._queue is not None and not self._queue.empty():
            item = self._queue.get_nowait()
            if not item.future.done():
                item.future.set_exception(ShuttingDownError("the server is shutting down"))

    async def _form_batches(self) -> None:
        assert self._queue is not None and self._slots is not None
        queue, slots = self._queue, self._slots
        while True:
            # Wait for a free slot first: while all slots are busy, items pile up in the queue
            # and the next batch takes them all (up to the maximum) instead of going one by one.
            await slots.acquire()
            batch: list[_Item[T, R]] = []
            try:
                batch.append(await queue.get())
                closes = time.monotonic() + self._max_wait_s
                while len(batch) < self._max_batch_size:
                    if not queue.empty():
                        batch.append(queue.get_nowait())
                        continue
                    remaining = closes - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(queue.get(), remaining))
                    except TimeoutError:
                        break
            except BaseException:
                # Cancelled by stop() while a batch was forming: its items are off the queue, so
                # stop() cannot see them; fail them here or their callers would wait forever.
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(ShuttingDownError("the server is shutting down"))
                slots.release()
                raise
            task = asyncio.create_task(self._run(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def _run(self, batch: list[_Item[T, R]]) -> None:
        assert self._slots is not None
        try:
            now = time.monotonic()
            live: list[_Item[T, R]] = []
            for item in batch:
                if item.future.done():  # the caller went away (cancelled)
                    continue
                if item.deadline is not None and item.deadline <= now:
                    item.future.set_exception(
                        DeadlineExceededError("deadline exceeded while waiting in the queue")
                    )
                    continue
                live.append(item)
            if not live:
                return
            if self._on_batch is not None:
                self._on_batch(len(live))
            started = time.monotonic()
            try:
                results = await self._run_batch([item.payload for item in live])
                if len(results) != len(live):
                    raise RuntimeError(f"batch of {len(live)} returned {len(results)} results")
            except Exception as exc:
                # Every waiting item learns of the failure; none is left hanging.
                for item in live:
                    if not item.future.done():
                        item.future.set_exception(exc)
                return
            run_s = time.monotonic() - started
            for item, value in zip(live, results, strict=True):
                if not item.future.done():
                    item.future.set_result(Completed(value, started - item.submitted, run_s, len(live)))
        finally:
            self._slots.release()
