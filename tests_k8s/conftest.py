"""The chart on a real API server: one control plane for the session, simulated nodes, real Helm.

Not part of ``make test`` (its own tier, ``make e2e-k8s``, run by .ci/run after it): the control
plane takes seconds to start and the whole tier about a couple of minutes on 2 cores.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import k8s_cluster  # noqa: E402

TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def plane() -> Iterator[k8s_cluster.ControlPlane]:
    """A started control plane with a 2-core CPU node and a GPU node (see k8s_cluster.DEFAULT_NODES)."""
    t0 = time.monotonic()
    with k8s_cluster.cluster() as control_plane:
        TIMINGS["fetch + control-plane start-up + nodes"] = time.monotonic() - t0
        TIMINGS["control-plane start-up"] = control_plane.startup_s
        yield control_plane
        assert control_plane.simulator is not None
        assert not control_plane.simulator.errors, control_plane.simulator.errors[:5]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for what, seconds in TIMINGS.items():
        terminalreporter.write_line(f"e2e-k8s: {what}: {seconds:.1f} s")
