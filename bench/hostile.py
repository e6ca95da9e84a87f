"""What a hostile or careless client does to a gateway, measured: one probe per known hole.

Each probe talks real gRPC to a live gateway and returns a dict of figures (JSON-ready), so the
same measurement runs before and after a fix, and the tests assert on the same figures:

* :func:`probe_malformed`: unparseable protobuf (``ff`` bytes, a request cut short, invalid UTF-8
  in a string field) on Colorize and GetModelInfo: codes, and whether the calls were counted;
* :func:`probe_stream_garbage`: a ColorizeStream of [valid, garbage, valid]: answers and time;
* :func:`probe_broken_framing`: a stream whose gRPC framing is broken (raw HTTP/2): its status;
* :func:`probe_idle_streams`: N streams that open and send nothing, then a Colorize and a new stream;
* :func:`probe_unread_stream`: a stream whose answers are never read: the gateway's RSS;
* :func:`probe_heavy_hints`: wide strokes with flat fill, and a normal request behind two of them;
* :func:`probe_sigterm`: SIGTERM during the heaviest work: health per port, refusals, exit time;
* :func:`probe_deadline_metrics`: calls at a 1 ms deadline: how the metrics count them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import cv2
import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.soak import LocalGateway, RssSampler, process_rss
from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc

SERVICE = "/colorizer.v1.Colorizer/"
_BIG = [("grpc.max_send_message_length", 2**30), ("grpc.max_receive_message_length", 2**30)]


def line_art_png(height: int, width: int, seed: int = 0) -> bytes:
    """PNG of white paper with dark lines and circles (closed regions for flat fill)."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width), 255, np.uint8)
    t = max(2, min(height, width) // 300)
    for _ in range(12):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(img, p1, p2, 0, t)
    for _ in range(4):
        c = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(img, c, int(rng.integers(4, max(5, min(height, width) // 3))), 0, t)
    ok, data = cv2.imencode(".png", img)
    assert ok
    return data.tobytes()


def request(height: int, width: int, rid: str = "", seed: int = 0) -> pb.ColorizeRequest:
    """A valid request with one point hint."""
    req = pb.ColorizeRequest(request_id=rid, sketch=line_art_png(height, width, seed))
    req.points.add(x=width / 2, y=height / 2, radius=3, color=pb.Color(r=200, g=40, b=40))
    return req


def heavy_request(
    height: int, width: int, *, strokes: int = 1, points: int = 4096, stroke_width: float = 1024.0
) -> pb.ColorizeRequest:
    """Flat fill with ``strokes`` zig-zag strokes of ``points`` points across the whole sketch."""
    req = pb.ColorizeRequest(request_id="heavy", sketch=line_art_png(height, width))
    req.output.flat_fill = True
    rng = np.random.default_rng(1)
    for k in range(strokes):
        s = req.strokes.add(width=stroke_width, color=pb.Color(r=(40 * k) % 256, g=120, b=200))
        xs = rng.uniform(0, width, points)
        ys = rng.uniform(0, height, points)
        for x, y in zip(xs, ys, strict=True):
            s.points.add(x=float(x), y=float(y))
    return req


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _code_name(code: int) -> str:
    return next((c.name for c in grpc.StatusCode if c.value[0] == code), str(code))


def requests_counted(metrics_port: int) -> dict[str, float]:
    """``colorizer_requests_total`` samples by ``method code`` (from the /metrics page)."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("colorizer_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            fields = dict(
                part.split("=", 1) for part in labels[len("colorizer_requests_total{") : -1].split(",")
            )
            key = f"{fields['method'].strip(chr(34)).rsplit('/', 1)[-1]} {fields['code'].strip(chr(34))}"
            counts[key] = counts.get(key, 0.0) + float(value)
    return counts


def _diff(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0)}


#: Unparseable bodies: name -> bytes.
MALFORMED_BODIES = {
    "ff_bytes": b"\xff" * 32,
    "cut_short": request(32, 32).SerializeToString()[:-7],
    "invalid_utf8": b"\x0a\x04\xff\xfe\xfd\xfc",  # request_id (field 1) = 4 bytes of invalid UTF-8
}


async def probe_malformed(address: str, metrics_port: int, timeout_s: float = 10.0) -> dict[str, Any]:
    """Each malformed body on Colorize and GetModelInfo: its code, and the calls counted."""
    before = requests_counted(metrics_port)
    codes: dict[str, str] = {}
    async with grpc.aio.insecure_channel(address) as channel:
        for method in ("Colorize", "GetModelInfo"):
            call = channel.unary_unary(SERVICE + method)
            for name, body in MALFORMED_BODIES.items():
                try:
                    await call(body, timeout=timeout_s)
                    codes[f"{method}:{name}"] = "OK"
                except grpc.aio.AioRpcError as exc:
                    codes[f"{method}:{name}"] = exc.code().name
    await asyncio.sleep(0.2)
    return {"codes": codes, "counted": _diff(requests_counted(metrics_port), before)}


async def probe_stream_garbage(address: str, timeout_s: float = 30.0, size: int = 64) -> dict[str, Any]:
    """[valid, garbage, valid] on one stream, then half-close: the answers, the end code, the time."""
    items = [
        request(size, size, "a").SerializeToString(),
        b"\xff" * 32,
        request(size, size, "c").SerializeToString(),
    ]
    answers: list[str] = []
    started = time.monotonic()
    end = "OK"
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.stream_stream(SERVICE + "ColorizeStream")(iter(items), timeout=timeout_s)
        try:
            async for raw in call:
                reply = pb.ColorizeStreamResponse.FromString(raw)
                outcome = "OK" if reply.WhichOneof("outcome") == "result" else _code_name(reply.error.code)
                answers.append(f"{reply.request_id or '?'}:{outcome}")
        except grpc.aio.AioRpcError as exc:
            end = exc.code().name
    return {"answers": sorted(answers), "end": end, "seconds": round(time.monotonic() - started, 2)}


async def _never(stop: asyncio.Event) -> AsyncIterator[pb.ColorizeRequest]:
    await stop.wait()
    return
    yield  # an async generator that sends nothing


async def probe_idle_streams(
    address: str,
    streams: int = 80,
    connections: int = 10,
    settle_s: float = 1.0,
    watch_s: float = 0.0,
    size: int = 64,
) -> dict[str, Any]:
    """Open ``streams`` idle streams over ``connections`` connections; then, from another
    connection, one Colorize and one new stream; then watch the idle ones for ``watch_s``."""
    stop = asyncio.Event()
    ended: list[tuple[str, float]] = []
    # A channel's own subchannel pool: one TCP connection per channel (gRPC shares them otherwise).
    own = [("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.aio.insecure_channel(address, options=own) for _ in range(connections)]
    started = time.monotonic()

    async def idle(channel: grpc.aio.Channel) -> None:
        try:
            async for _ in pb_grpc.ColorizerStub(channel).ColorizeStream(_never(stop)):
                pass
            ended.append(("OK", time.monotonic() - started))
        except grpc.aio.AioRpcError as exc:
            ended.append((exc.code().name, time.monotonic() - started))

    tasks = [asyncio.create_task(idle(channels[i % connections])) for i in range(streams)]
    await asyncio.sleep(settle_s)
    async with grpc.aio.insecure_channel(address, options=own) as channel:
        stub = pb_grpc.ColorizerStub(channel)
        try:
            await stub.Colorize(request(size, size), timeout=10)
            unary = "OK"
        except grpc.aio.AioRpcError as exc:
            unary = exc.code().name
        try:
            replies = [r async for r in stub.ColorizeStream(iter([request(size, size)]), timeout=10)]
            stream = "OK" if replies and replies[0].WhichOneof("outcome") == "result" else "item error"
        except grpc.aio.AioRpcError as exc:
            stream = exc.code().name
    await asyncio.sleep(watch_s)
    stop.set()
    await asyncio.wait(tasks, timeout=5)
    for t in tasks:
        t.cancel()
    for channel in channels:
        await channel.close()
    codes: dict[str, int] = {}
    for code, _ in ended:
        codes[code] = codes.get(code, 0) + 1
    idle_ends = [t for c, t in ended if c == "DEADLINE_EXCEEDED"]
    return {
        "streams": streams,
        "connections": connections,
        "unary_while_idle": unary,
        "new_stream_while_idle": stream,
        "idle_stream_ends": codes,
        "idle_ended_after_s": None if not idle_ends else round(min(idle_ends), 2),
    }


def items_done(metrics_port: int) -> float:
    """Images the gateway answered so far (``colorizer_items_total``, every code)."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("colorizer_items_total{")
    )


def _gauge(metrics_port: int, name: str) -> float:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " "))


async def probe_unread_stream(
    address: str,
    rss: Callable[[], int],
    metrics_port: int,
    *,
    items: int = 100,
    side: int = 2048,
    watch_s: float = 60.0,
    read_after: bool = False,
    fixed_window: bool = False,
) -> dict[str, Any]:
    """Send ``items`` sketches of ``side``² on one stream and read nothing for ``watch_s``: the
    gateway's RSS, how many items it worked on meanwhile, and whether the gateway ended the
    stream; then (``read_after``, if the stream is still open) read all the answers.

    The client's gRPC buffers answers up to its HTTP/2 window, which grows by itself (BDP
    probing) to a few MiB; ``fixed_window`` keeps it at 64 KiB, so that what the transport holds
    is at most about one answer.
    """
    body = request(side, side, "u")
    sent = 0
    idle_rss = rss()
    done_before = items_done(metrics_port)
    answered = 0
    started = time.monotonic()
    options = _BIG + ([("grpc.http2.bdp_probe", 0)] if fixed_window else [])
    async with (
        grpc.aio.insecure_channel(address, options=options) as channel,
        RssSampler(rss, 0.1) as sampler,
    ):
        call = pb_grpc.ColorizerStub(channel).ColorizeStream()

        async def send() -> None:
            nonlocal sent
            for _ in range(items):
                await call.write(body)
                sent += 1
            await call.done_writing()

        writer = asyncio.create_task(send())
        await asyncio.wait({writer}, timeout=watch_s)
        await asyncio.sleep(max(0.0, watch_s - (time.monotonic() - started)))  # all of it, unread
        worked = items_done(metrics_port) - done_before
        sent_unread = sent
        ended = call.done()
        end_code = (await call.code()).name if ended else None
        server_calls = _gauge(metrics_port, "colorizer_in_flight_requests")
        if read_after and not ended:
            async for reply in call:
                answered += reply.WhichOneof("outcome") == "result"
            await writer
        else:
            writer.cancel()
            call.cancel()
    return {
        "items": items,
        "side": side,
        "watch_s": watch_s,
        "sent_while_unread": sent_unread,
        "worked_while_unread": worked,
        "answered_ok_after_reading": answered if read_after else None,
        "stream_ended_seen_by_client": end_code,
        # gRPC calls the gateway still handles at the end of the watch (this stream included?)
        "server_calls_in_flight": server_calls,
        "rss_idle_mb": round(idle_rss / 2**20, 1),
        "rss_peak_mb": round(sampler.peak / 2**20, 1),
        "rss_rise_mb": round((sampler.peak - idle_rss) / 2**20, 1),
    }


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def probe_heavy_hints(
    address: str,
    pid: int,
    *,
    height: int = 3000,
    width: int = 4000,
    strokes: int = 1,
    deadline_s: float = 5.0,
    normal: tuple[int, int] = (333, 517),
    single: bool = True,
) -> dict[str, Any]:
    """One heavy call timed alone; then two with ``deadline_s`` and a normal request behind them."""
    heavy = heavy_request(height, width, strokes=strokes)
    out: dict[str, Any] = {"sketch": f"{width}x{height}", "strokes": strokes, "points": 4096, "width": 1024}
    async with grpc.aio.insecure_channel(address, options=_BIG) as channel:
        stub = pb_grpc.ColorizerStub(channel)
        if single:
            t0 = time.monotonic()
            try:
                reply = await stub.Colorize(heavy, timeout=600)
                out["alone_postprocess_s"] = round(reply.timings.postprocess_ms / 1000, 2)
                out["alone_code"] = "OK"
            except grpc.aio.AioRpcError as exc:
                out["alone_code"] = exc.code().name
            out["alone_total_s"] = round(time.monotonic() - t0, 2)

        async def deadlined() -> str:
            try:
                await stub.Colorize(heavy, timeout=deadline_s)
                return "OK"
            except grpc.aio.AioRpcError as exc:
                return exc.code().name

        cpu0 = _cpu_s(pid)
        pair = [asyncio.create_task(deadlined()) for _ in range(2)]
        await asyncio.sleep(min(2.0, deadline_s / 2))
        t0 = time.monotonic()
        reply = await stub.Colorize(
            pb.ColorizeRequest(request_id="normal", sketch=line_art_png(*normal)), timeout=600
        )
        out["normal_latency_s"] = round(time.monotonic() - t0, 2)
        out["normal_decode_ms"] = round(reply.timings.decode_ms, 1)
        out["deadlined_codes"] = await asyncio.gather(*pair)
        # CPU the gateway burns in the 5 s after both answered: ~0 when the work stopped.
        cpu1 = _cpu_s(pid)
        await asyncio.sleep(5.0)
        out["cpu_s_in_5s_after_deadlines"] = round(_cpu_s(pid) - cpu1, 2)
        out["cpu_s_during"] = round(cpu1 - cpu0, 2)
    return out


async def probe_sigterm(
    gateway: LocalGateway,
    heavy: pb.ColorizeRequest,
    *,
    calls: int = 1,
    health_port: int | None = None,
    signal_after_s: float = 3.0,
    poll_s: float = 0.05,
) -> dict[str, Any]:
    """``calls`` heavy calls in flight, SIGTERM, health polled on every port; exit time and codes."""
    ports = {"main": gateway.address} | ({"health": f"127.0.0.1:{health_port}"} if health_port else {})
    seen: dict[str, list[tuple[float, str]]] = {name: [] for name in ports}
    refused: list[str] = []
    async with grpc.aio.insecure_channel(gateway.address, options=_BIG) as channel:
        stub = pb_grpc.ColorizerStub(channel)

        async def heavy_call() -> str:
            try:
                await stub.Colorize(heavy, timeout=600)
                return "OK"
            except grpc.aio.AioRpcError as exc:
                return exc.code().name

        work = [asyncio.create_task(heavy_call()) for _ in range(calls)]
        await asyncio.sleep(signal_after_s)
        t0 = time.monotonic()
        gateway.signal(signal.SIGTERM)

        async def poll(name: str, address: str) -> None:
            async with grpc.aio.insecure_channel(address) as ch:
                health = health_pb2_grpc.HealthStub(ch)
                while gateway.returncode is None and time.monotonic() - t0 < 300:
                    try:
                        r = await health.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                        state = health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)
                    except grpc.aio.AioRpcError as exc:
                        state = f"error:{exc.code().name}"
                    seen[name].append((time.monotonic() - t0, state))
                    await asyncio.sleep(poll_s)

        async def new_call() -> None:
            await asyncio.sleep(0.2)
            try:
                await stub.Colorize(request(32, 32), timeout=5)
                refused.append("OK")
            except grpc.aio.AioRpcError as exc:
                refused.append(exc.code().name)

        pollers = [asyncio.create_task(poll(n, a)) for n, a in ports.items()]
        probe = asyncio.create_task(new_call())
        while gateway.returncode is None and time.monotonic() - t0 < 300:
            await asyncio.sleep(0.02)
        exit_s = time.monotonic() - t0
        codes = await asyncio.gather(*work)
        await probe
        for p in pollers:
            p.cancel()
    health: dict[str, Any] = {}
    for name, states in seen.items():
        first_not = next((t for t, s in states if s == "NOT_SERVING"), None)
        health[name] = {
            "not_serving_seen_s": None if first_not is None else round(first_not, 2),
            "not_serving_polls": sum(1 for _, s in states if s == "NOT_SERVING"),
            "unreachable_from_s": next((round(t, 2) for t, s in states if s.startswith("error")), None),
        }
    return {
        "exit_s": round(exit_s, 2),
        "returncode": gateway.returncode,
        "in_flight_codes": codes,
        "new_call_during_drain": refused,
        "health": health,
    }


async def probe_deadline_metrics(
    address: str,
    metrics_port: int,
    calls: int = 40,
    deadlines_s: tuple[float, ...] = (0.001, 0.05, 0.2, 1.0),
    size: int = 1024,
) -> dict[str, Any]:
    """``calls`` Colorize calls at each deadline: what clients saw and what the metrics counted.

    (Calls whose deadline expires before gRPC hands them to the gateway are not counted at all.)
    """
    seen: dict[str, int] = {}
    counted: dict[str, float] = {}
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.ColorizerStub(channel)
        req = request(size, size)
        for deadline_s in deadlines_s:
            before = requests_counted(metrics_port)

            async def one(deadline_s: float = deadline_s) -> None:
                try:
                    await stub.Colorize(req, timeout=deadline_s)
                    code = "OK"
                except grpc.aio.AioRpcError as exc:
                    code = exc.code().name
                seen[code] = seen.get(code, 0) + 1

            await asyncio.gather(*(one() for _ in range(calls)))
            # The server may still be finishing (and counting) calls the clients gave up on.
            now: dict[str, float] = {}
            for _ in range(40):
                await asyncio.sleep(0.25)
                latest = {
                    k: v
                    for k, v in _diff(requests_counted(metrics_port), before).items()
                    if k.startswith("Colorize ")
                }
                if latest == now and sum(now.values()) > 0:
                    break
                now = latest
            for k, v in now.items():
                counted[k] = counted.get(k, 0.0) + v
    return {"deadlines_s": list(deadlines_s), "client_saw": seen, "counted": counted}


def rss_of(pid: int) -> Callable[[], int]:
    """A reader of process ``pid``'s RSS."""
    return lambda: process_rss(pid)


#: Every probe, in the order :func:`run_probes` runs them.
PROBES = (
    "malformed",
    "stream_garbage",
    "broken_framing",
    "idle_streams",
    "unread_stream",
    "heavy_hints",
    "deadline_metrics",
    "sigterm",
)


async def _run_one(name: str, gateway: LocalGateway, quick: bool) -> dict[str, Any]:
    address, pid = gateway.address, gateway.pid
    if name == "malformed":
        return await probe_malformed(address, gateway.metrics_port)
    if name == "stream_garbage":
        return await probe_stream_garbage(address)
    if name == "broken_framing":
        frames = [await asyncio.to_thread(probe_broken_framing, address, f) for f in BROKEN_FRAMES]
        return {"frames": frames}
    if name == "idle_streams":
        return await probe_idle_streams(address, streams=80, watch_s=6.0)
    if name == "unread_stream":
        return await probe_unread_stream(
            address,
            rss_of(pid),
            gateway.metrics_port,
            items=24 if quick else 100,
            side=2048,
            watch_s=30.0 if quick else 90.0,
        )
    if name == "heavy_hints":
        return await probe_heavy_hints(address, pid, strokes=1)
    if name == "deadline_metrics":
        return await probe_deadline_metrics(address, gateway.metrics_port)
    raise ValueError(f"unknown probe {name!r}")


async def run_probes(
    names: tuple[str, ...],
    env: dict[str, str],
    *,
    server_pythonpath: str | None = None,
    quick: bool = False,
    log_dir: Any = None,
) -> dict[str, Any]:
    """Run each probe against its own fresh ``colorizer serve`` (``env`` settings) and collect the figures.

    ``server_pythonpath`` runs the server from another checkout (e.g. the code before a fix)
    while this client code stays the same: the same measurement before and after.
    """
    from pathlib import Path

    base = dict(env)
    if server_pythonpath:
        base["PYTHONPATH"] = server_pythonpath
    results: dict[str, Any] = {}
    for name in names:
        probe_env = dict(base)
        health_port = None
        if name == "idle_streams":
            probe_env.setdefault("COLORIZER_STREAM_IDLE_TIMEOUT_S", "5")
        if name == "sigterm":
            from bench.soak import free_port

            health_port = free_port()
            probe_env["COLORIZER_HEALTH_PORT"] = str(health_port)
        log = Path(log_dir) / f"{name}.log" if log_dir else None
        cwd = Path(server_pythonpath) if server_pythonpath else None
        with LocalGateway(probe_env, log_path=log, cwd=cwd) as gateway:
            started = time.monotonic()
            if name == "sigterm":
                heavy = heaviest_request(quick)
                figures = await probe_sigterm(gateway, heavy, health_port=health_port)
            else:
                figures = await _run_one(name, gateway, quick)
            figures["probe_wall_s"] = round(time.monotonic() - started, 1)
            figures["server_alive"] = gateway.returncode is None or name == "sigterm"
        results[name] = figures
    return results


def heaviest_request(quick: bool = False) -> pb.ColorizeRequest:
    """The heaviest request the default limits allow: 4096² flat fill, 256 strokes of 4096 points x 1024 px.

    (``quick``: 16 strokes.) The message is ~10 MB, under the default 32 MiB message limit.
    """
    return heavy_request(4096, 4096, strokes=16 if quick else 256)


#: Broken gRPC framings of a stream's second DATA frame: name -> bytes (after one valid item).
BROKEN_FRAMES = {
    "truncated": b"\x00\x00\x00\x03\xe8\x08\x01",  # declares 1000 bytes, 2 follow, then END_STREAM
    "compressed_flag_no_encoding": b"\x01\x00\x00\x00\x02\x08\x01",
    "bad_flags": b"\x80\x00\x00\x00\x02\x08\x01",
    "half_prefix": b"\x00\x00\x00",
}


def probe_broken_framing(
    address: str, frame: str = "truncated", timeout_s: float = 10.0, size: int = 32
) -> dict[str, Any]:
    """A ColorizeStream over raw HTTP/2 (package h2): one valid item, then a gRPC frame whose
    5-byte prefix declares more bytes than follow, then END_STREAM. The status and the time."""
    import socket
    import struct

    import h2.config
    import h2.connection
    import h2.events

    host, port = address.rsplit(":", 1)
    started = time.monotonic()
    sock = socket.create_connection((host, int(port)), timeout=timeout_s)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    conn.send_headers(
        stream,
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", SERVICE + "ColorizeStream"),
            (":authority", address),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ],
    )
    valid = request(size, size, "v").SerializeToString()
    conn.send_data(stream, b"\x00" + struct.pack(">I", len(valid)) + valid)
    conn.send_data(stream, BROKEN_FRAMES[frame], end_stream=True)
    sock.sendall(conn.data_to_send())
    status: str | None = None
    messages = 0
    reset = False
    try:
        while status is None and not reset and time.monotonic() - started < timeout_s:
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    messages += 1
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
                    # str with header_encoding set, bytes without: h2's types say bytes
                    headers = {_text(k): _text(v) for k, v in event.headers or ()}
                    if "grpc-status" in headers:
                        status = _code_name(int(headers["grpc-status"]))
                elif isinstance(event, h2.events.StreamReset):
                    reset = True
            sock.sendall(conn.data_to_send())
    except TimeoutError:
        pass
    finally:
        sock.close()
    return {
        "frame": frame,
        "status": status or ("RST_STREAM" if reset else "none"),
        "data_frames": messages,
        "seconds": round(time.monotonic() - started, 2),
    }
