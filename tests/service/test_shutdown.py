"""SIGTERM with requests in flight: every one of them completes; new ones are refused.

The gateway runs as a real ``colorizer serve`` subprocess so the signal goes through the same
handler as in a container.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from gateway_helpers import free_port, metric_value, png, scrape, sketch_image
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc

COLORIZER = Path(sys.executable).with_name("colorizer")
IN_FLIGHT = 12


async def _wait_serving(address: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            assert proc.poll() is None, "colorizer serve exited during startup"
            try:
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            assert time.monotonic() < deadline, "colorizer serve did not become SERVING"
            await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_sigterm_drains_in_flight_requests(model_repository: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "COLORIZER_MODEL_REPOSITORY": str(model_repository),
        "COLORIZER_HOST": "127.0.0.1",
        "COLORIZER_PORT": str(port),
        "COLORIZER_METRICS_PORT": str(metrics_port := free_port()),
        # One batch larger than IN_FLIGHT that closes only after 3 s: every request is still
        # waiting for the model when SIGTERM arrives at 0.5 s, however fast this machine is.
        "COLORIZER_MAX_BATCH_SIZE": str(IN_FLIGHT + 4),
        "COLORIZER_MAX_WAIT_MS": "3000",
        "COLORIZER_INTRA_OP_THREADS": "1",
        "COLORIZER_GRACE_S": "60",
    }
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([str(COLORIZER), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        await _wait_serving(address, proc)
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.ColorizerStub(channel)
            done_at: dict[str, float] = {}

            async def one(i: int) -> pb.ColorizeResponse:
                reply = await stub.Colorize(
                    pb.ColorizeRequest(request_id=f"r{i}", sketch=png(sketch_image(200, 180, seed=i))),
                    timeout=120,
                )
                done_at[reply.request_id] = time.monotonic()
                return reply

            calls = [asyncio.create_task(one(i)) for i in range(IN_FLIGHT)]
            # All admitted (a busy machine may take more than a fixed sleep to read them), none
            # answered: their batch is still open until 3 s.
            admitted_by = time.monotonic() + 2.0
            while time.monotonic() < admitted_by:
                page = await asyncio.to_thread(scrape, metrics_port)
                if metric_value(page, "colorizer_in_flight_requests") >= IN_FLIGHT:
                    break
                await asyncio.sleep(0.05)
            assert not done_at
            sigterm_at = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Colorize(pb.ColorizeRequest(sketch=png(sketch_image(32, 32))), timeout=10)
            replies = await asyncio.gather(*calls)

        assert sorted(r.request_id for r in replies) == sorted(f"r{i}" for i in range(IN_FLIGHT))
        assert all(r.width == 180 and r.height == 200 for r in replies)
        assert all(t > sigterm_at for t in done_at.values())  # all were in flight at SIGTERM
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert "draining" in text and "gateway stopped" in text
    assert "keeping freed memory for reuse" in text  # COLORIZER_MALLOC_KEEP_FREED's default, applied
