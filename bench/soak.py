"""Long-run and overload harnesses for a live gateway: throughput, latency, shedding and RSS over time.

* :class:`LocalGateway` runs ``colorizer serve`` as a child process on free 127.0.0.1 ports, so
  its memory (``/proc/<pid>/status`` VmRSS) is the gateway's alone.
* :func:`run_soak` drives steady closed-loop load for a bounded time, one sample per interval.
* :func:`run_overload` measures capacity, offers several times it, then checks recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from bench.loadgen import CallSecurity, LoadResult, open_channel, run_load
from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc

#: The readiness health service (the gateway's own service name).
READINESS_SERVICE = "colorizer.v1.Colorizer"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_rss(pid: int) -> int:
    """Resident set size of process ``pid`` in bytes (Linux ``/proc``); 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class LocalGateway:
    """``colorizer serve`` in a child process on 127.0.0.1 (free ports), configured by ``env``.

    ``env`` holds ``COLORIZER_*`` settings; host and ports are chosen here. Use as a context
    manager: it waits until the readiness health check is SERVING, and stops the child (SIGTERM,
    then SIGKILL) on exit.
    """

    def __init__(
        self, env: Mapping[str, str], *, log_path: Path | None = None, cwd: Path | None = None
    ) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        self._env = {
            **os.environ,
            **env,
            "COLORIZER_HOST": "127.0.0.1",
            "COLORIZER_PORT": str(self.port),
            "COLORIZER_METRICS_PORT": str(self.metrics_port),
        }
        self._log_path = log_path
        # `python -m` puts the working directory first on sys.path: to run another checkout's
        # server (its PYTHONPATH in ``env``), run it from there.
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self._terminated = False

    @property
    def address(self) -> str:
        """``host:port`` to dial."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The child's process id."""
        assert self._proc is not None, "not started"
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The child's exit code, None while it runs."""
        return None if self._proc is None else self._proc.poll()

    def rss(self) -> int:
        """The gateway's resident memory in bytes."""
        return process_rss(self.pid)

    def start(self, timeout_s: float = 120.0) -> None:
        """Start the child and wait until it is SERVING."""
        self.launch()
        self.wait_serving(timeout_s)

    def launch(self) -> None:
        """Start the child without waiting (several gateways then load their models at once)."""
        out: Any = subprocess.DEVNULL
        if self._log_path is not None:
            out = self._log_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "colorizer.cli", "serve"],
                env=self._env,
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()

    def wait_serving(self, timeout_s: float = 120.0) -> None:
        """Wait until the launched child is SERVING (stopping it if it does not get there)."""
        try:
            self._wait_serving(time.monotonic() + timeout_s)
        except BaseException:
            self.stop(grace_s=0)
            raise

    def _wait_serving(self, deadline: float) -> None:
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                if self.returncode is not None:
                    raise RuntimeError(f"colorizer serve exited with code {self.returncode} at startup")
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=READINESS_SERVICE), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    raise RuntimeError("colorizer serve did not become SERVING in time")
                time.sleep(0.2)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the child."""
        if self._proc is not None and self._proc.poll() is None:
            self._terminated |= sig == signal.SIGTERM
            self._proc.send_signal(sig)

    def stop(self, grace_s: float = 30.0) -> int | None:
        """SIGTERM (once: a second one ends a drain), wait ``grace_s``, then SIGKILL; the exit code."""
        if self._proc is None:
            return None
        if not self._terminated:
            self.signal(signal.SIGTERM)
        try:
            return self._proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            return self._proc.wait()

    def __enter__(self) -> LocalGateway:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class RssSampler:
    """Samples ``rss()`` every ``interval_s`` in a background task: (seconds since start, bytes)."""

    def __init__(self, rss: Callable[[], int], interval_s: float = 0.1) -> None:
        self._rss = rss
        self._interval_s = interval_s
        self.samples: list[tuple[float, int]] = []
        self._task: asyncio.Task[None] | None = None
        self._t0 = time.monotonic()

    async def __aenter__(self) -> RssSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._sample()

    def _sample(self) -> None:
        self.samples.append((time.monotonic() - self._t0, self._rss()))

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(self._interval_s)

    @property
    def peak(self) -> int:
        """Largest RSS seen (bytes)."""
        return max((b for _, b in self.samples), default=0)


@dataclass
class SoakSample:
    """One interval of a soak run."""

    t_s: float
    ok: int
    errors: dict[str, int]
    throughput: float
    p50_ms: float
    p99_ms: float
    rss_mb: float


@dataclass
class SoakReport:
    """A soak run: samples, and RSS growth after warm-up."""

    minutes: float
    concurrency: int
    warmup_s: float
    samples: list[SoakSample] = field(default_factory=list)

    def _after_warmup(self) -> list[SoakSample]:
        return [s for s in self.samples if s.t_s > self.warmup_s] or self.samples[-1:]

    def rss_growth(self) -> float:
        """Relative RSS growth from the first sample after warm-up to the last sample."""
        after = self._after_warmup()
        if not after or after[0].rss_mb <= 0:
            return math.nan
        return (after[-1].rss_mb - after[0].rss_mb) / after[0].rss_mb

    def peak_rss_growth(self) -> float:
        """Relative growth from the first sample after warm-up to the highest one after it."""
        after = self._after_warmup()
        if not after or after[0].rss_mb <= 0:
            return math.nan
        return (max(s.rss_mb for s in after) - after[0].rss_mb) / after[0].rss_mb

    def summary(self) -> dict[str, Any]:
        """The JSON-able report."""
        total_ok = sum(s.ok for s in self.samples)
        errors: dict[str, int] = {}
        for s in self.samples:
            for code, n in s.errors.items():
                errors[code] = errors.get(code, 0) + n
        return {
            "minutes": self.minutes,
            "concurrency": self.concurrency,
            "warmup_s": self.warmup_s,
            "ok": total_ok,
            "errors": errors,
            "mean_throughput": total_ok / self.samples[-1].t_s if self.samples else 0.0,
            "rss_growth_after_warmup": self.rss_growth(),
            "peak_rss_growth_after_warmup": self.peak_rss_growth(),
            "samples": [asdict(s) for s in self.samples],
        }


async def run_soak(
    target: str,
    requests: Sequence[pb.ColorizeRequest],
    *,
    minutes: float,
    concurrency: int,
    rss: Callable[[], int],
    interval_s: float = 10.0,
    warmup_s: float = 60.0,
    timeout_s: float = 30.0,
    on_sample: Callable[[SoakSample], None] | None = None,
    channel_credentials: grpc.ChannelCredentials | None = None,
    metadata: Sequence[tuple[str, str]] | None = None,
) -> SoakReport:
    """Steady closed-loop load for ``minutes`` (bounded), one :class:`SoakSample` per interval."""
    report = SoakReport(minutes=minutes, concurrency=concurrency, warmup_s=warmup_s)
    started = time.monotonic()
    end = started + minutes * 60.0
    while (left := end - time.monotonic()) > 0.5:
        result = await run_load(
            target,
            requests,
            concurrency=concurrency,
            duration_s=min(interval_s, left),
            timeout_s=timeout_s,
            channel_credentials=channel_credentials,
            metadata=metadata,
        )
        sample = SoakSample(
            t_s=time.monotonic() - started,
            ok=result.ok,
            errors={k: v for k, v in result.codes.items() if k != "OK"},
            throughput=result.throughput(),
            p50_ms=result.percentile(50) * 1000,
            p99_ms=result.percentile(99) * 1000,
            rss_mb=rss() / 2**20,
        )
        report.samples.append(sample)
        if on_sample is not None:
            on_sample(sample)
    return report


@dataclass
class OverloadReport:
    """Capacity, behaviour under several times the capacity, and recovery."""

    baseline: dict[str, Any]
    overload: dict[str, Any]
    recovery: dict[str, Any]
    #: Latency (s) of RESOURCE_EXHAUSTED answers seen by the probe during overload.
    shed_latencies_s: list[float]
    #: Other probe outcomes during overload, by status name.
    probe_codes: dict[str, int]
    rss_mb: dict[str, float]

    def summary(self) -> dict[str, Any]:
        """The JSON-able report."""
        shed = sorted(self.shed_latencies_s)
        return {
            "baseline": self.baseline,
            "overload": self.overload,
            "recovery": self.recovery,
            "shed_p50_ms": _pct(shed, 50) * 1000,
            "shed_p99_ms": _pct(shed, 99) * 1000,
            "shed_max_ms": (shed[-1] if shed else math.nan) * 1000,
            "probe_codes": self.probe_codes,
            "rss_mb": self.rss_mb,
        }


def _pct(ordered: list[float], q: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * q / 100))]


def _phase(result: LoadResult) -> dict[str, Any]:
    shed = result.codes.get("RESOURCE_EXHAUSTED", 0)
    return {
        "sent": result.sent,
        "ok": result.ok,
        "codes": dict(result.codes),
        "offered_rps": result.sent / result.wall_s if result.wall_s else 0.0,
        "throughput": result.throughput(),
        "shed_rate": shed / result.sent if result.sent else 0.0,
        "p50_ms": result.percentile(50) * 1000,
        "p99_ms": result.percentile(99) * 1000,
        "max_ms": max(result.latencies_s, default=math.nan) * 1000,
    }


async def _probe(
    target: str,
    request: pb.ColorizeRequest,
    stop: asyncio.Event,
    timeout_s: float,
    channel_credentials: grpc.ChannelCredentials | None = None,
    metadata: Sequence[tuple[str, str]] | None = None,
) -> tuple[list[float], dict[str, int]]:
    """Send one request every 20 ms until ``stop``; latencies of shed answers, and all codes."""
    shed: list[float] = []
    codes: dict[str, int] = {}
    md = tuple(metadata) if metadata else None
    async with open_channel(target, channel_credentials) as channel:
        stub = pb_grpc.ColorizerStub(channel)

        async def one() -> None:
            t0 = time.perf_counter()
            try:
                await stub.Colorize(request, timeout=timeout_s, metadata=md)
                code = "OK"
            except grpc.aio.AioRpcError as exc:
                code = exc.code().name
                if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    shed.append(time.perf_counter() - t0)
            codes[code] = codes.get(code, 0) + 1

        tasks = []
        while not stop.is_set():
            tasks.append(asyncio.create_task(one()))
            await asyncio.sleep(0.02)
        await asyncio.gather(*tasks)
    return shed, codes


async def run_overload(
    target: str,
    requests: Sequence[pb.ColorizeRequest],
    *,
    rss: Callable[[], int],
    base_concurrency: int,
    overload_concurrency: int,
    phase_s: float,
    overload_s: float,
    timeout_s: float = 30.0,
    channel_credentials: grpc.ChannelCredentials | None = None,
    metadata: Sequence[tuple[str, str]] | None = None,
) -> OverloadReport:
    """Baseline at ``base_concurrency``, overload at ``overload_concurrency``, then recovery.

    The overload's clients are closed-loop: a shed answer comes back at once and the client sends
    again, so the offered rate is many times the capacity (``overload.offered_rps``).
    """
    secure: CallSecurity = {"channel_credentials": channel_credentials, "metadata": metadata}
    rss_mb = {"start": rss() / 2**20}
    baseline = await run_load(
        target, requests, concurrency=base_concurrency, duration_s=phase_s, timeout_s=timeout_s, **secure
    )
    rss_mb["after_baseline"] = rss() / 2**20
    stop = asyncio.Event()
    probe = asyncio.create_task(_probe(target, requests[0], stop, timeout_s, **secure))
    async with RssSampler(rss) as sampler:
        overload = await run_load(
            target,
            requests,
            concurrency=overload_concurrency,
            duration_s=overload_s,
            timeout_s=timeout_s,
            **secure,
        )
    stop.set()
    shed, codes = await probe
    rss_mb["peak_overload"] = sampler.peak / 2**20
    recovery = await run_load(
        target, requests, concurrency=base_concurrency, duration_s=phase_s, timeout_s=timeout_s, **secure
    )
    rss_mb["after_recovery"] = rss() / 2**20
    return OverloadReport(
        baseline=_phase(baseline),
        overload=_phase(overload),
        recovery=_phase(recovery),
        shed_latencies_s=shed,
        probe_codes=codes,
        rss_mb=rss_mb,
    )


def plot_soak(report: SoakReport, path: Path) -> None:
    """Throughput and RSS over time as a PNG (drawn with OpenCV: no plotting library needed)."""
    import cv2
    import numpy as np

    w, h, pad = 900, 300, 50
    canvas = np.full((2 * h, w, 3), 255, np.uint8)
    ts = [s.t_s for s in report.samples] or [0.0]
    series = (
        ("throughput (img/s)", [s.throughput for s in report.samples], (200, 80, 0)),
        ("gateway RSS (MiB)", [s.rss_mb for s in report.samples], (0, 0, 200)),
    )
    t_max = max(ts[-1], 1e-9)
    for row, (label, values, color) in enumerate(series):
        top = row * h
        v_max = max(values, default=1.0) * 1.1 or 1.0
        cv2.rectangle(canvas, (pad, top + 20), (w - 20, top + h - pad), (0, 0, 0), 1)
        pts = [
            (int(pad + (t / t_max) * (w - 20 - pad)), int(top + h - pad - (v / v_max) * (h - pad - 20)))
            for t, v in zip(ts, values, strict=False)
        ]
        if len(pts) > 1:
            cv2.polylines(canvas, [np.array(pts, np.int32)], False, color, 2)
        cv2.putText(canvas, f"{label}  max {v_max / 1.1:.1f}", (pad, top + 15), 0, 0.5, color, 1)
        cv2.putText(canvas, f"0 .. {t_max:.0f} s", (pad, top + h - pad + 20), 0, 0.45, (0, 0, 0), 1)
        if report.warmup_s < t_max:
            x = int(pad + report.warmup_s / t_max * (w - 20 - pad))
            cv2.line(canvas, (x, top + 20), (x, top + h - pad), (128, 128, 128), 1)
    cv2.imwrite(str(path), canvas)
