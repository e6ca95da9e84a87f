"""Admission control: work slots shared by every call, open-stream slots, and the drain switch.

It knows nothing of gRPC. A unary Colorize holds one work slot while it runs; a ColorizeStream
holds one *stream* slot while it is open and one work slot per item only while that item is in
work (or its answer waits to be sent). So open streams, idle or not, cannot take the work slots
from everyone else: they are bounded separately, in total and per connection.
"""

from __future__ import annotations

from collections import Counter

from service.errors import OverloadedError, ShuttingDownError

#: What a call refused by admission control is told.
OVERLOADED_MESSAGE = "server overloaded: {limit} requests already in progress; retry with backoff"


class Admission:
    """Counts work in progress and open streams; raises instead of admitting beyond the limits.

    Every method runs on the event loop, one at a time, so check-and-count is one step.
    """

    def __init__(self, work_limit: int, stream_limit: int, streams_per_peer: int) -> None:
        self.work_limit = work_limit
        self.stream_limit = stream_limit
        self.streams_per_peer = streams_per_peer
        self._work = 0
        self._streams: Counter[str] = Counter()
        self._draining = False

    @property
    def work_in_progress(self) -> int:
        """Work slots taken now (unary calls plus stream items)."""
        return self._work

    @property
    def open_streams(self) -> int:
        """Streams open now."""
        return sum(self._streams.values())

    @property
    def draining(self) -> bool:
        """Whether new calls are refused because the server is stopping."""
        return self._draining

    def drain(self) -> None:
        """Refuse every new call from now on (work already admitted goes on)."""
        self._draining = True

    def take_work(self) -> None:
        """Take one work slot or raise :class:`OverloadedError` / :class:`ShuttingDownError`."""
        if self._draining:
            raise ShuttingDownError("the server is shutting down; retry on another replica")
        if self._work >= self.work_limit:
            raise OverloadedError(OVERLOADED_MESSAGE.format(limit=self.work_limit))
        self._work += 1

    def release_work(self) -> None:
        """Give back a slot taken by :meth:`take_work`."""
        self._work -= 1

    def open_stream(self, peer: str) -> None:
        """Count one more open stream from ``peer`` (its connection) or raise."""
        if self._draining:
            raise ShuttingDownError("the server is shutting down; retry on another replica")
        if self.open_streams >= self.stream_limit:
            raise OverloadedError(
                f"server overloaded: {self.stream_limit} streams already open (max_open_streams); "
                "retry with backoff"
            )
        if self._streams[peer] >= self.streams_per_peer:
            raise OverloadedError(
                f"{self.streams_per_peer} streams already open on this connection "
                "(max_streams_per_connection); send more items on an open stream"
            )
        self._streams[peer] += 1

    def close_stream(self, peer: str) -> None:
        """Count one stream of ``peer`` closed."""
        self._streams[peer] -= 1
        if self._streams[peer] <= 0:
            del self._streams[peer]
