"""What a hostile or careless client did to the gateway (issue 14), against a real ``colorizer serve``.

Each test drives a probe of ``bench/hostile.py`` (the same measurement ``colorizer fuzz --hostile``
reports) over real gRPC, against a child process, and asserts the fixed behavior. Every one of
them failed before the fix; to see that, run them against another checkout's server:
``COLORIZER_TEST_SERVER_CHECKOUT=/path/to/old/checkout pytest tests/service/test_hostile_clients.py``
(the client side stays this one).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from bench import hostile
from bench.soak import LocalGateway, free_port
from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc

_CHECKOUT = os.environ.get("COLORIZER_TEST_SERVER_CHECKOUT")
IDLE_TIMEOUT_S = 1.5
STREAM_CONCURRENCY = 2
IN_FLIGHT = 8


def _gateway(model_repository: Path, log: Path, **settings: object) -> LocalGateway:
    env = {
        "COLORIZER_MODEL_REPOSITORY": str(model_repository),
        "COLORIZER_INPUT_SIZE": "64",
        "COLORIZER_WORKERS": "1",
        "COLORIZER_INTRA_OP_THREADS": "1",
        "COLORIZER_MAX_WAIT_MS": "5",
        "COLORIZER_MAX_IN_FLIGHT": str(IN_FLIGHT),
        "COLORIZER_STREAM_CONCURRENCY": str(STREAM_CONCURRENCY),
        "COLORIZER_STREAM_IDLE_TIMEOUT_S": str(IDLE_TIMEOUT_S),
        "COLORIZER_MAX_STREAMS_PER_CONNECTION": "8",
        # A 1 Mpx flat fill (21 Mpx-passes) is heavy here: it gets the heavy pool.
        "COLORIZER_HEAVY_COST_MPX": "5",
        "COLORIZER_LOG_LEVEL": "INFO",
    }
    env.update({f"COLORIZER_{k.upper()}": str(v) for k, v in settings.items()})
    if _CHECKOUT:
        env["PYTHONPATH"] = _CHECKOUT
    return LocalGateway(env, log_path=log, cwd=Path(_CHECKOUT) if _CHECKOUT else None)


@pytest.fixture(scope="module")
def gateway_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the module's gateway writes its log."""
    return tmp_path_factory.mktemp("hostile") / "gateway.log"


@pytest.fixture(scope="module")
def gateway(model_repository: Path, gateway_log: Path) -> Iterator[LocalGateway]:
    """One ``colorizer serve`` (tiny model, 1 image thread) for the tests of this module."""
    with _gateway(model_repository, gateway_log) as g:
        yield g


# 1. Idle streams took every in-flight slot: Colorize and new streams got RESOURCE_EXHAUSTED.
async def test_idle_streams_hold_no_work_slot_and_end_after_the_idle_timeout(gateway: LocalGateway) -> None:
    figures = await hostile.probe_idle_streams(
        gateway.address, streams=3 * IN_FLIGHT, connections=3, settle_s=0.5, watch_s=IDLE_TIMEOUT_S + 0.5
    )
    assert figures["unary_while_idle"] == "OK", figures
    assert figures["new_stream_while_idle"] == "OK", figures
    assert figures["idle_stream_ends"] == {"DEADLINE_EXCEEDED": 3 * IN_FLIGHT}, figures
    assert IDLE_TIMEOUT_S - 0.2 < figures["idle_ended_after_s"] < IDLE_TIMEOUT_S + 1.5, figures
    # And one connection cannot open more than max_streams_per_connection.
    capped = await hostile.probe_idle_streams(gateway.address, streams=10, connections=1, settle_s=0.5)
    assert capped["idle_stream_ends"].get("RESOURCE_EXHAUSTED") == 2, capped


# 2. Unparseable protobuf got UNKNOWN, an ERROR trace, and no count in colorizer_requests_total.
async def test_malformed_protobuf_is_invalid_argument_counted_and_not_logged_as_a_trace(
    gateway: LocalGateway, gateway_log: Path
) -> None:
    figures = await hostile.probe_malformed(gateway.address, gateway.metrics_port)
    codes = figures["codes"]
    for name in hostile.MALFORMED_BODIES:
        assert codes[f"Colorize:{name}"] == "INVALID_ARGUMENT", figures
    assert codes["GetModelInfo:ff_bytes"] == codes["GetModelInfo:cut_short"] == "INVALID_ARGUMENT", figures
    # GetModelInfoRequest has no fields: the "invalid UTF-8" body is an unknown field there, and fine.
    assert codes["GetModelInfo:invalid_utf8"] == "OK"
    assert figures["counted"].get("Colorize INVALID_ARGUMENT") == 3, figures
    assert figures["counted"].get("GetModelInfo INVALID_ARGUMENT") == 2, figures
    assert "Traceback" not in gateway_log.read_text(errors="replace")


# 3. One unparseable item hung the stream until the client's deadline.
async def test_an_unparseable_stream_item_is_answered_and_the_stream_goes_on(gateway: LocalGateway) -> None:
    figures = await hostile.probe_stream_garbage(gateway.address, timeout_s=20)
    assert figures["answers"] == ["?:INVALID_ARGUMENT", "a:OK", "c:OK"], figures
    assert figures["end"] == "OK" and figures["seconds"] < 15, figures


# 3b. Broken gRPC framing inside a stream (raw HTTP/2).
async def test_broken_stream_framing_ends_the_stream_at_once(gateway: LocalGateway) -> None:
    pytest.importorskip("h2")  # a dev dependency (pyproject.toml)
    for frame in hostile.BROKEN_FRAMES:
        figures = await asyncio.to_thread(hostile.probe_broken_framing, gateway.address, frame, 10.0)
        assert figures["seconds"] < 5, figures  # never a hang
        if frame == "compressed_flag_no_encoding":  # refused by gRPC itself
            assert figures["status"] == "INTERNAL", figures
        else:
            # A truncated last frame reads as the end of the stream in grpcio (the handler cannot
            # tell): the stream ends cleanly after the valid item's answer.
            assert figures["status"] == "OK" and figures["data_frames"] >= 1, figures
    assert gateway.returncode is None


# 4. A client that did not read its stream made the server hold every finished result.
async def test_unread_stream_answers_are_bounded_and_the_stream_is_cancelled(gateway: LocalGateway) -> None:
    figures = await hostile.probe_unread_stream(
        gateway.address, gateway.rss, gateway.metrics_port, items=40, side=512, watch_s=4.0, fixed_window=True
    )
    # While nothing is read, the gateway works on at most its stream slots, plus about one answer
    # the transport took (a 64 KiB HTTP/2 window): not on all 40.
    assert figures["worked_while_unread"] <= STREAM_CONCURRENCY + 2, figures
    # An answer unread for the idle timeout cancels the stream on the server, which frees its work
    # slots (the client, not reading, does not learn it: its trailers wait behind the unread data).
    assert figures["server_calls_in_flight"] == 0, figures
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        stub = pb_grpc.ColorizerStub(channel)
        replies = await asyncio.gather(
            *(stub.Colorize(hostile.request(64, 64), timeout=30) for _ in range(IN_FLIGHT))
        )
    assert len(replies) == IN_FLIGHT


async def test_a_slow_reader_gets_every_answer(gateway: LocalGateway) -> None:
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        call = pb_grpc.ColorizerStub(channel).ColorizeStream(
            iter([hostile.request(128, 128, f"s{i}") for i in range(12)]), timeout=60
        )
        got = []
        async for reply in call:
            assert reply.WhichOneof("outcome") == "result", reply.error
            got.append(reply.request_id)
            await asyncio.sleep(0.3)  # reads slowly, but within the idle timeout: backpressure only
    assert sorted(got) == sorted(f"s{i}" for i in range(12))


# 5. Hint cost: a wide many-point stroke cost points x width^2, deadlines did not stop the work,
#    and heavy calls held the threads that decode everyone's images.
async def test_wide_stroke_costs_about_its_area(gateway: LocalGateway) -> None:
    async with grpc.aio.insecure_channel(gateway.address, options=hostile._BIG) as channel:
        stub = pb_grpc.ColorizerStub(channel)
        plain = hostile.heavy_request(900, 1200, strokes=0)
        plain.points.add(x=600, y=450, radius=512, color=pb.Color(r=10, g=200, b=10))
        wide = hostile.heavy_request(900, 1200, strokes=1)
        base = (await stub.Colorize(plain, timeout=120)).timings.postprocess_ms
        stroke = (await stub.Colorize(wide, timeout=120)).timings.postprocess_ms
    # A 4096-point stroke of width 1024 over the whole sketch: about another fill of its area,
    # not ~4096 dabs of 1024 px (> 10x the plain fill before).
    assert stroke < 3 * base + 500, (stroke, base)


async def test_work_past_its_deadline_stops_and_heavy_calls_leave_decoding_free(
    gateway: LocalGateway,
) -> None:
    many = hostile.heavy_request(900, 1200, strokes=120)  # seconds of hint painting, minutes before
    async with grpc.aio.insecure_channel(gateway.address, options=hostile._BIG) as channel:
        stub = pb_grpc.ColorizerStub(channel)

        async def deadlined() -> grpc.StatusCode:
            try:
                await stub.Colorize(many, timeout=2.0)
                return grpc.StatusCode.OK
            except grpc.aio.AioRpcError as exc:
                return exc.code()

        pair = [asyncio.create_task(deadlined()) for _ in range(2)]
        await asyncio.sleep(1.0)
        t0 = time.monotonic()
        normal = await stub.Colorize(hostile.request(333, 517, "normal"), timeout=60)
        normal_s = time.monotonic() - t0
        codes = await asyncio.gather(*pair)
        # The second is refused at once when the first fills the heavy pool's cost budget.
        assert grpc.StatusCode.DEADLINE_EXCEEDED in codes, codes
        assert set(codes) <= {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
        cpu = hostile._cpu_s(gateway.pid)
        await asyncio.sleep(3.0)
        burnt = hostile._cpu_s(gateway.pid) - cpu
    # The normal request did not wait behind the heavy ones for its one image thread (before: it
    # waited 77-107 s for their painting). The bound is wide: a busy 2-core machine stretches a
    # 517x333 decode to ~1 s, and this is a regression test, not a benchmark.
    assert normal.timings.decode_ms < 4000 and normal_s < 5.0, (normal.timings, normal_s)
    # 120 wide strokes took minutes of CPU after the deadline before; now the work stops.
    assert burnt < 1.0, f"{burnt:.2f} s of CPU in the 3 s after both deadlines"


# 7. Calls whose client deadline expired were counted as CANCELLED or UNKNOWN.
async def test_calls_past_their_client_deadline_are_counted_as_deadline_exceeded(
    gateway: LocalGateway,
) -> None:
    figures = await hostile.probe_deadline_metrics(
        gateway.address, gateway.metrics_port, calls=IN_FLIGHT - 2, deadlines_s=(0.02, 0.1, 0.3), size=1024
    )
    counted, saw = figures["counted"], figures["client_saw"]
    # What the clients saw, and nothing else (calls that expired before reaching the gateway
    # are not counted at all); never CANCELLED or UNKNOWN for a client deadline.
    assert counted.get("Colorize DEADLINE_EXCEEDED", 0) >= 1, figures
    assert {k.split()[1] for k in counted} <= set(saw), figures
    assert counted.get("Colorize DEADLINE_EXCEEDED", 0) <= saw.get("DEADLINE_EXCEEDED", 0), figures


# 6. SIGTERM: NOT_SERVING never observable, exit not bounded by the grace period.
@pytest.mark.slow
async def test_sigterm_not_serving_on_every_port_then_exit_within_grace(
    model_repository: Path, tmp_path: Path
) -> None:
    health_port = free_port()
    grace, pre_stop = 4.0, 1.5
    g = _gateway(
        model_repository,
        tmp_path / "gateway.log",
        grace_s=grace,
        drain_pre_stop_s=pre_stop,
        health_port=health_port,
        thread_stop_wait_s=1.0,
    )
    with g:
        # Minutes of hint painting on the heavy pool, and one more waiting behind it (a 2400 px page:
        # since the faster flat fill of 2026-12-02, 1200 px finished inside the grace).
        heavy = hostile.heavy_request(1800, 2400, strokes=200)
        figures = await hostile.probe_sigterm(g, heavy, calls=2, health_port=health_port, signal_after_s=2.0)
    assert figures["returncode"] == 0, figures
    assert figures["exit_s"] < grace + 3.0, figures
    for port in ("main", "health"):
        seen = figures["health"][port]
        # NOT_SERVING from the first poll, for about the pre-stop interval, on both ports.
        assert seen["not_serving_seen_s"] is not None and seen["not_serving_seen_s"] < 0.5, figures
        assert seen["not_serving_polls"] >= 5, figures
    assert figures["new_call_during_drain"] == ["UNAVAILABLE"], figures
    # Cancelled at the end of the grace (or refused at once by the heavy pool's cost budget).
    assert set(figures["in_flight_codes"]) <= {"CANCELLED", "UNAVAILABLE", "RESOURCE_EXHAUSTED"}, figures


async def test_health_watch_and_reflection_streams_pass_the_message_decoding_interceptor(
    gateway: LocalGateway,
) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    async with grpc.aio.insecure_channel(gateway.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
        first = await asyncio.wait_for(watch.read(), 10)  # answered with context.write()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        watch.cancel()
        info = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = [s.name async for r in info for s in r.list_services_response.service]
        assert "colorizer.v1.Colorizer" in names
        garbage = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in garbage(iter([b"\xff" * 8]), timeout=10):
                pass
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
