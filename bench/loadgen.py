"""A closed-loop gRPC load generator for the Colorizer API (grpc.aio; no ghz/perf_analyzer here).

``concurrency`` clients share one channel; each sends its next request as soon as the previous
one is answered (closed loop), cycling through the given requests. The run ends after ``total``
requests were sent and/or ``duration_s`` seconds. RPC errors are counted by status name, never
raised, so a benchmark or a soak run sees refusals (RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED) as data.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import grpc

from service.grpc_gen.colorizer.v1 import colorizer_pb2, colorizer_pb2_grpc


#: Channel options: the responses are whole images, larger than gRPC's 4 MiB default.
class CallSecurity(TypedDict, total=False):
    """TLS credentials and call metadata (the bearer token) of a load run, passed as ``**kwargs``."""

    channel_credentials: grpc.ChannelCredentials | None
    metadata: Sequence[tuple[str, str]] | None


_CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", 64 * 2**20),
    ("grpc.max_send_message_length", 64 * 2**20),
)


def open_channel(
    target: str,
    credentials: grpc.ChannelCredentials | None = None,
    options: Sequence[tuple[str, Any]] = _CHANNEL_OPTIONS,
) -> grpc.aio.Channel:
    """An aio channel to ``target``: TLS with ``credentials``, plaintext without."""
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=options)
    return grpc.aio.secure_channel(target, credentials, options=options)


@dataclass
class LoadResult:
    """What one load run saw."""

    sent: int = 0
    ok: int = 0
    #: gRPC status name -> number of calls that ended with it (``OK`` included).
    codes: dict[str, int] = field(default_factory=dict)
    #: Seconds per successful call, in completion order.
    latencies_s: list[float] = field(default_factory=list)
    #: Wall time of the whole run.
    wall_s: float = 0.0

    def throughput(self) -> float:
        """Successful calls per second of wall time."""
        return self.ok / self.wall_s if self.wall_s > 0 else 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0..100) of successful-call latency in seconds (nan if none)."""
        if not self.latencies_s:
            return math.nan
        ordered = sorted(self.latencies_s)
        # Nearest-rank on a linear interpolation, as numpy's default does.
        pos = (len(ordered) - 1) * min(max(q, 0.0), 100.0) / 100.0
        low = math.floor(pos)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)

    def count(self, code: str) -> None:
        """Add one call that ended with status ``code``."""
        self.codes[code] = self.codes.get(code, 0) + 1


async def run_load(
    target: str,
    requests: Sequence[colorizer_pb2.ColorizeRequest],
    *,
    concurrency: int,
    total: int | None = None,
    duration_s: float | None = None,
    timeout_s: float = 30.0,
    channel_credentials: grpc.ChannelCredentials | None = None,
    metadata: Sequence[tuple[str, str]] | None = None,
) -> LoadResult:
    """Drive ``Colorize`` on ``target`` with ``concurrency`` closed-loop clients.

    Stops sending after ``total`` calls or ``duration_s`` seconds, whichever comes first (at least
    one of the two must be given); calls in flight at the end are awaited and counted.
    """
    if not requests:
        raise ValueError("requests must not be empty")
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    if total is None and duration_s is None:
        raise ValueError("give total and/or duration_s")
    channel = open_channel(target, channel_credentials)
    result = LoadResult()
    # Shared across clients, so the cycle and the total are global, not per client.
    tickets = itertools.count()
    cycle = itertools.cycle(requests)
    md = tuple(metadata) if metadata else None
    async with channel:
        stub = colorizer_pb2_grpc.ColorizerStub(channel)
        started = time.perf_counter()
        stop_at = started + duration_s if duration_s is not None else math.inf

        async def client() -> None:
            while True:
                if next(tickets) >= (total if total is not None else math.inf):
                    return
                if time.perf_counter() >= stop_at:
                    return
                request = next(cycle)
                result.sent += 1
                t0 = time.perf_counter()
                try:
                    await stub.Colorize(request, timeout=timeout_s, metadata=md)
                except grpc.aio.AioRpcError as exc:
                    result.count(exc.code().name)
                    continue
                except grpc.RpcError:  # a non-aio error object (should not happen; count it)
                    result.count(grpc.StatusCode.UNKNOWN.name)
                    continue
                result.latencies_s.append(time.perf_counter() - t0)
                result.ok += 1
                result.count(grpc.StatusCode.OK.name)

        await asyncio.gather(*(client() for _ in range(concurrency)))
        result.wall_s = time.perf_counter() - started
    return result
