"""Mode ``gateway``: the real gateway (``colorizer serve`` as a subprocess) under gRPC load.

The gateway runs in its own process, as in production, so its CPU time and peak RSS are read from
``/proc/<pid>`` without counting the load generator; its mean batch size comes from the
difference of ``colorizer_batch_size_sum/_count`` on its /metrics page before and after each row.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import LoadResult, run_load
from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb

_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class LoadRow:
    """One concurrency level's measurement (gateway or a direct client)."""

    target: str
    concurrency: int
    sent: int
    ok: int
    codes: dict[str, int]
    wall_s: float
    images_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    #: Mean images per model batch in the gateway (nan when not measured).
    mean_batch: float = float("nan")
    #: Cores the server process used on average (CPU seconds / wall seconds).
    server_cores: float = float("nan")
    #: Peak resident memory of the server process so far, MiB.
    server_peak_rss_mib: float = float("nan")
    #: The sketches sent ("512" or "mixed 256-2048"); "" when not named.
    workload: str = ""
    #: Server CPU milliseconds per image answered (all its threads: gRPC, images, model).
    server_cpu_ms_per_image: float = float("nan")
    #: Image-thread CPU milliseconds per image by stage, from the gateway's own
    #: ``colorizer_stage_cpu_seconds_total`` (decode, preprocess, postprocess, encode).
    stage_cpu_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


def row_from(target: str, concurrency: int, result: LoadResult, **extra: Any) -> LoadRow:
    """A :class:`LoadRow` from a load run (latencies in milliseconds)."""
    return LoadRow(
        target=target,
        concurrency=concurrency,
        sent=result.sent,
        ok=result.ok,
        codes=dict(result.codes),
        wall_s=result.wall_s,
        images_per_s=result.throughput(),
        p50_ms=1000 * result.percentile(50),
        p95_ms=1000 * result.percentile(95),
        p99_ms=1000 * result.percentile(99),
        **extra,
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime (fields 14, 15)


def peak_rss_mib(pid: int) -> float:
    """Peak resident set size (VmHWM) of ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class GatewayProcess:
    """``colorizer serve`` in a child process on free ports, with the given settings as env vars.

    With ``profile``, it runs under py-spy (:mod:`bench.profile`), which writes its collapsed
    stacks there when the gateway exits; :attr:`pid` is then still the gateway's own.
    """

    def __init__(self, settings: dict[str, str], log_path: Path, profile: Path | None = None) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        self.settings = dict(settings)
        self._log_path = log_path
        self._profile = profile
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = 0

    @property
    def address(self) -> str:
        """gRPC address to dial."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The gateway's process id."""
        if self._proc is None:
            raise RuntimeError("gateway not started")
        if self._profile is None:
            return self._proc.pid
        if not self._pid:  # under py-spy: its one child
            children = Path(f"/proc/{self._proc.pid}/task/{self._proc.pid}/children").read_text().split()
            if not children:
                raise RuntimeError("py-spy has not started the gateway yet")
            self._pid = int(children[0])
        return self._pid

    def start(self, timeout_s: float = 120.0) -> None:
        """Start it and wait until GetModelInfo answers."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("COLORIZER_")}
        env.update({f"COLORIZER_{k.upper()}": v for k, v in self.settings.items()})
        env.update(
            COLORIZER_HOST="127.0.0.1",
            COLORIZER_PORT=str(self.port),
            COLORIZER_METRICS_PORT=str(self.metrics_port),
        )
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "colorizer.cli", "serve"]
        if self._profile is not None:
            from bench.profile import record_command

            command = record_command(self._profile, command)
        self._pid = 0
        with self._log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self._proc.returncode}; see {self._log_path}")
            if asyncio.run(_answers(self.address)):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gateway not ready after {timeout_s} s; see {self._log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within its grace."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            if self._profile is not None:
                # The gateway's own SIGTERM (a clean exit); py-spy then writes its file and exits.
                with contextlib.suppress(RuntimeError, OSError):
                    os.kill(self.pid, signal.SIGTERM)
            else:
                self._proc.terminate()
            try:
                self._proc.wait(15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def scrape(self) -> dict[str, float]:
        """Its /metrics page as ``{series: value}`` (series with labels as written there)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values


def grown(before: dict[str, float], after: dict[str, float], series: str) -> float:
    """How much ``series`` grew between two :meth:`GatewayProcess.scrape` pages."""
    return after.get(series, 0.0) - before.get(series, 0.0)


def stage_cpu_ms(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Image-thread CPU ms per OK image by stage, between two scrapes of the gateway."""
    from service.metrics import CPU_STAGES

    images = grown(before, after, 'colorizer_items_total{code="OK"}')
    if images <= 0:
        return {}
    return {
        stage: 1000 * grown(before, after, f'colorizer_stage_cpu_seconds_total{{stage="{stage}"}}') / images
        for stage in CPU_STAGES
    }


async def _answers(address: str) -> bool:
    import grpc

    from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc

    async with grpc.aio.insecure_channel(address) as channel:
        try:
            await colorizer_pb2_grpc.ColorizerStub(channel).GetModelInfo(pb.GetModelInfoRequest(), timeout=2)
        except grpc.RpcError:
            return False
    return True


@contextlib.contextmanager
def running_gateway(
    settings: dict[str, str], log_path: Path, profile: Path | None = None
) -> Iterator[GatewayProcess]:
    """A started :class:`GatewayProcess` (under py-spy with ``profile``), stopped on exit."""
    gateway = GatewayProcess(settings, log_path, profile)
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


def sweep(
    gateway: GatewayProcess,
    requests: Sequence[pb.ColorizeRequest],
    concurrencies: Sequence[int],
    *,
    duration_s: float,
    target: str,
    timeout_s: float = 300.0,
    workload: str = "",
) -> list[LoadRow]:
    """Closed-loop load at each concurrency for ``duration_s``, after one warm-up burst."""
    # Warm-up: the first batch of each size makes ORT plan and allocate for that shape.
    asyncio.run(run_load(gateway.address, requests, concurrency=8, total=16, timeout_s=timeout_s))
    rows = []
    for concurrency in concurrencies:
        scrape0 = gateway.scrape()
        cpu0 = cpu_seconds(gateway.pid)
        result = asyncio.run(
            run_load(
                gateway.address, requests, concurrency=concurrency, duration_s=duration_s, timeout_s=timeout_s
            )
        )
        cpu1 = cpu_seconds(gateway.pid)
        scrape1 = gateway.scrape()
        batches = grown(scrape0, scrape1, "colorizer_batch_size_count")
        rows.append(
            row_from(
                target,
                concurrency,
                result,
                mean_batch=grown(scrape0, scrape1, "colorizer_batch_size_sum") / batches
                if batches
                else float("nan"),
                server_cores=(cpu1 - cpu0) / result.wall_s,
                server_peak_rss_mib=peak_rss_mib(gateway.pid),
                workload=workload,
                server_cpu_ms_per_image=1000 * (cpu1 - cpu0) / result.ok if result.ok else float("nan"),
                stage_cpu_ms=stage_cpu_ms(scrape0, scrape1),
            )
        )
    return rows
