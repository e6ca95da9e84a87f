"""Overload: several times the capacity is shed fast with RESOURCE_EXHAUSTED, the rest stays fast.

A short sample against a ``colorizer serve`` child process (its RSS measured alone); the full run
is ``colorizer soak --overload 48 --overload-seconds 30``.
"""

from __future__ import annotations

import pytest

from bench.fuzz import sample_requests
from bench.soak import LocalGateway, run_overload

pytestmark = pytest.mark.slow


async def test_overload_is_shed_quickly_and_throughput_recovers(gateway_process: LocalGateway) -> None:
    """32 closed-loop clients against 8 admitted calls (the shared gateway process)."""
    gateway = gateway_process
    report = await run_overload(
        gateway.address,
        sample_requests(4, 96),
        rss=gateway.rss,
        base_concurrency=2,
        overload_concurrency=32,
        phase_s=3.0,
        overload_s=4.0,
    )
    s = report.summary()
    base, over, rec = s["baseline"], s["overload"], s["recovery"]
    assert set(base["codes"]) == {"OK"} and set(rec["codes"]) == {"OK"}
    assert set(over["codes"]) <= {"OK", "RESOURCE_EXHAUSTED"}, over["codes"]
    assert over["offered_rps"] > 3 * base["throughput"], "the sample did not overload the gateway"
    assert over["shed_rate"] > 0.5 and over["ok"] > 0
    # Shed answers come at once (admission control before decoding), far sooner than an admitted
    # call of the same overload. (Compared with the overload's own accepted calls, not with the
    # baseline: the shed time includes the client's event-loop delay among 32 hot clients, which
    # on a quiet machine can exceed a fast baseline call.)
    assert s["shed_p50_ms"] < min(250.0, 0.5 * over["p50_ms"]), s
    # Accepted calls wait behind at most the admitted few: bounded, not growing with the offer.
    assert over["p99_ms"] < max(8 * base["p99_ms"], 2000.0), (over, base)
    assert rec["throughput"] > 0.5 * base["throughput"], (rec, base)
    assert s["rss_mb"]["peak_overload"] - s["rss_mb"]["after_baseline"] < 200, s["rss_mb"]
    assert gateway.returncode is None
