"""Fixtures for the client tests: a real gateway on a free port, run in a background thread.

The CLI commands call ``asyncio.run`` themselves, so the gateway they talk to with ``--server``
cannot share their event loop: it runs on its own loop in a thread for the whole module. The
model is the session's tiny random-weight repository from tests/service/conftest.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def server_address(make_settings: Callable[..., Any]) -> Iterator[str]:
    """``host:port`` of a gateway serving the tiny model (embedded backend) during the module."""
    from service.server import running_server

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def serve() -> None:
        state["stop"] = asyncio.Event()
        try:
            async with running_server(make_settings(grace_s=1)) as address:
                state["address"] = address
                ready.set()
                await state["stop"].wait()
        except BaseException as exc:
            state["error"] = exc
            ready.set()
            raise

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(120), "gateway did not start"
    if "error" in state:
        raise state["error"]
    try:
        yield state["address"]
    finally:
        loop.call_soon_threadsafe(state["stop"].set)
        thread.join(30)
        loop.close()
