"""Unit tests of the micro-batcher (no gRPC, no model: it batches items and calls a function)."""

from __future__ import annotations

import asyncio
import time

import pytest

from service.batching import MicroBatcher
from service.errors import Code, DeadlineExceededError, OverloadedError, ShuttingDownError


async def _double(items: list[int]) -> list[int]:
    return [2 * i for i in items]


async def test_concurrent_items_form_batches_and_results_match() -> None:
    sizes: list[int] = []
    batcher: MicroBatcher[int, int] = MicroBatcher(
        _double, max_batch_size=4, max_wait_s=0.05, max_queue=100, on_batch=sizes.append
    )
    await batcher.start()
    try:
        results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
    finally:
        await batcher.stop()
    assert [r.value for r in results] == [2 * i for i in range(10)]
    assert sum(sizes) == 10 and max(sizes) == 4 and len(sizes) <= 4
    assert all(r.batch_size >= 1 and r.queue_s >= 0 and r.run_s >= 0 for r in results)


async def test_item_past_its_deadline_is_dropped_before_the_function_runs() -> None:
    seen: list[int] = []
    gate = asyncio.Event()

    async def slow(items: list[int]) -> list[int]:
        seen.extend(items)
        await gate.wait()
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(slow, max_batch_size=1, max_wait_s=0, max_queue=10)
    await batcher.start()
    try:
        first = asyncio.create_task(batcher.submit(1))
        await asyncio.sleep(0.01)  # item 1 occupies the only batch slot
        late = asyncio.create_task(batcher.submit(2, deadline=time.monotonic() + 0.02))
        await asyncio.sleep(0.05)  # item 2's deadline passes while it waits for the slot
        gate.set()
        assert (await first).value == 1
        with pytest.raises(DeadlineExceededError) as info:
            await late
        assert info.value.code == Code.DEADLINE_EXCEEDED
        assert seen == [1]  # item 2 never reached the function
    finally:
        await batcher.stop()


async def test_full_queue_answers_overloaded_at_once() -> None:
    gate = asyncio.Event()

    async def blocked(items: list[int]) -> list[int]:
        await gate.wait()
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(blocked, max_batch_size=1, max_wait_s=0, max_queue=2)
    await batcher.start()
    try:
        running = asyncio.create_task(batcher.submit(0))
        await asyncio.sleep(0.01)  # item 0 is running; the queue is empty again
        queued = [asyncio.create_task(batcher.submit(i)) for i in (1, 2)]
        await asyncio.sleep(0.01)
        assert batcher.depth == 2
        # "At once" without a clock: the refusal is raised on the coroutine's first step, before it
        # could suspend to wait for a slot (a timing bound would flake on a busy CI machine).
        refused = batcher.submit(3)
        with pytest.raises(OverloadedError) as info:
            refused.send(None)
        assert info.value.code == Code.RESOURCE_EXHAUSTED
        gate.set()
        assert [(await t).value for t in (running, *queued)] == [0, 1, 2]
    finally:
        await batcher.stop()


async def test_error_is_fanned_out_to_every_item_of_the_batch() -> None:
    class Boom(Exception):
        pass

    async def failing(items: list[int]) -> list[int]:
        raise Boom("model exploded")

    batcher: MicroBatcher[int, int] = MicroBatcher(failing, max_batch_size=8, max_wait_s=0.05, max_queue=10)
    await batcher.start()
    try:
        results = await asyncio.gather(*(batcher.submit(i) for i in range(5)), return_exceptions=True)
    finally:
        await batcher.stop()
    assert len(results) == 5 and all(isinstance(r, Boom) for r in results)


async def test_wrong_number_of_results_fails_every_item() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    batcher: MicroBatcher[int, int] = MicroBatcher(short, max_batch_size=4, max_wait_s=0.05, max_queue=10)
    await batcher.start()
    try:
        results = await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)
    finally:
        await batcher.stop()
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_stop_fails_queued_items_and_refuses_new_ones() -> None:
    gate = asyncio.Event()

    async def blocked(items: list[int]) -> list[int]:
        await gate.wait()
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(blocked, max_batch_size=1, max_wait_s=0, max_queue=10)
    await batcher.start()
    running = asyncio.create_task(batcher.submit(0))
    await asyncio.sleep(0.01)
    queued = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0.01)
    stopping = asyncio.create_task(batcher.stop())
    await asyncio.sleep(0.01)
    gate.set()  # the running batch may finish: stop() waits for it
    await stopping
    assert (await running).value == 0
    with pytest.raises(ShuttingDownError):
        await queued
    with pytest.raises(ShuttingDownError):
        await batcher.submit(2)


async def test_stop_fails_items_of_a_batch_still_forming() -> None:
    """Items already taken off the queue into an unclosed batch get an answer, not a hang."""
    ran: list[list[int]] = []

    async def record(items: list[int]) -> list[int]:
        ran.append(items)
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(record, max_batch_size=4, max_wait_s=60, max_queue=10)
    await batcher.start()
    forming = [asyncio.create_task(batcher.submit(i)) for i in range(2)]
    await asyncio.sleep(0.05)  # both submitted; the consumer moved them into its open batch
    assert batcher.depth == 0 and not any(t.done() for t in forming)
    await asyncio.wait_for(batcher.stop(), timeout=5)
    for task in forming:
        with pytest.raises(ShuttingDownError):
            await asyncio.wait_for(task, timeout=5)
    assert ran == []
