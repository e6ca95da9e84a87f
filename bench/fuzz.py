"""Hostile-input fuzzing of a live gateway: seeded cases over every request field and image format.

:class:`CaseGenerator` makes reproducible cases (same seed, same cases): valid images of every
format the gateway reads (8/16-bit, gray/RGB/RGBA, CMYK JPEG, multi-page TIFF, animated GIF and
APNG), the same mutated, truncated and spliced, random bytes, headers declaring huge sizes
(decompression bombs) for PNG/JPEG/TIFF/GIF/BMP/WebP, a real bomb at the pixel limit, and random
hints, options and ids. :func:`run_fuzz` sends them and judges every answer: OK, or
INVALID_ARGUMENT / RESOURCE_EXHAUSTED with a non-empty message; anything else is a failure.
"""

from __future__ import annotations

import asyncio
import base64
import random
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import grpc
import numpy as np

from bench.loadgen import open_channel
from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc

#: The answers a hostile request may get. Everything else (INTERNAL, UNKNOWN, UNAVAILABLE: a
#: crash; DEADLINE_EXCEEDED: a hang) is a failure.
ALLOWED = frozenset({"OK", "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"})

# A 24x16 CMYK JPEG (Adobe APP14), made once with Pillow: OpenCV cannot encode CMYK.
CMYK_JPEG = base64.b64decode(
    "/9j/7gAOQWRvYmUAZAAAAAAA/9sAQwAQCwwODAoQDg0OEhEQExgoGhgWFhgxIyUdKDozPTw5Mzg3QEhcTkBEV0U3OFBtUVdfYmd"
    "oZz5NcXlwZHhcZWdj/8AAFAgAEAAYBEMRAE0RAFkRAEsRAP/EAB8AAAEFAQEBAQEBAAAAAAAAAAABAgMEBQYHCAkKC//EALUQAA"
    "IBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNER"
    "UZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS"
    "09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+v/aAA4EQwBNAFkASwAAPwD0CvQK9Aren0zU9Hne60OVrqFyN9hcyE9TlmR2PBO"
    "SefUnngUUUVoaRrllq6sIHaOeMsJLaYBZUwcHK/iOffHXiiiitKiiiiiiisvWNDt9VxMHktr6NCsN3CxV48/QjI68H1OMZoooqj"
    "Hrd3pFwtr4hRRFJII4NQjAEb8fxjPyH9OvYZr/2Q=="
)


@dataclass(frozen=True)
class FuzzCase:
    """One request and the family it comes from (e.g. ``bomb:png``, ``mutate:tiff16``)."""

    kind: str
    request: pb.ColorizeRequest


def line_art(height: int, width: int, rng: random.Random) -> np.ndarray:
    """Gray uint8 line art: white paper, a few dark lines."""
    img = np.full((height, width), 255, np.uint8)
    for _ in range(4):
        p1 = (rng.randrange(width), rng.randrange(height))
        p2 = (rng.randrange(width), rng.randrange(height))
        cv2.line(img, p1, p2, 0, 2)
    return img


def _enc(ext: str, img: np.ndarray) -> bytes:
    ok, data = cv2.imencode(ext, img)
    if not ok:
        raise RuntimeError(f"OpenCV cannot encode {ext}")
    return data.tobytes()


def _animation(ext: str, frames: list[np.ndarray]) -> bytes:
    anim = cv2.Animation()
    anim.frames = frames
    anim.durations = [100] * len(frames)
    ok, data = cv2.imencodeanimation(ext, anim)
    if not ok:
        raise RuntimeError(f"OpenCV cannot encode an animated {ext}")
    return bytes(data)


def valid_images(rng: random.Random) -> dict[str, bytes]:
    """One small valid image per format and flavour the gateway should read."""
    h, w = rng.randrange(8, 80), rng.randrange(8, 80)
    gray = line_art(h, w, rng)
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    bgra = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGRA)
    ok, multipage = cv2.imencodemulti(".tiff", [bgr, cv2.resize(bgr, (w * 2, h * 2))])
    assert ok
    return {
        "png": _enc(".png", gray),
        "png16": _enc(".png", gray.astype(np.uint16) * 257),
        "png-rgba": _enc(".png", bgra),
        "png16-rgba": _enc(".png", bgra.astype(np.uint16) * 257),
        "jpeg": _enc(".jpg", bgr),
        "jpeg-cmyk": CMYK_JPEG,
        "webp": _enc(".webp", bgr),
        "bmp": _enc(".bmp", bgr),
        "tiff": _enc(".tiff", bgr),
        "tiff16": _enc(".tiff", bgr.astype(np.uint16) * 257),
        "tiff-float": _enc(".tiff", bgr.astype(np.float32) / 255),
        "tiff-multipage": bytes(multipage),
        "gif": _enc(".gif", bgr),
        "gif-animated": _animation(".gif", [bgr, 255 - bgr]),
        "apng": _animation(".png", [bgra, 255 - bgra]),
    }


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def png_declaring(width: int, height: int, depth: int = 8, color: int = 0, idat: bytes = b"") -> bytes:
    """A PNG whose IHDR (valid CRC) declares ``width`` x ``height``, with ``idat`` as its data."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    body = _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat or zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + body + _png_chunk(b"IEND", b"")


def png_zlib_bomb(side: int) -> bytes:
    """A real ``side`` x ``side`` 16-bit RGBA PNG of zeros: tiny file, 8 bytes a pixel decoded."""
    row = b"\0" + b"\0" * (side * 8)  # filter byte + pixels
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return png_declaring(side, side, depth=16, color=6, idat=data)


def bombs(rng: random.Random, pixel_limit: int) -> dict[str, bytes]:
    """Headers declaring sizes far beyond any limit, one per format, plus real bombs at the limit."""
    big = rng.choice([65535, 100_000, 2**31 - 1, 2**32 - 1])
    jpeg = _enc(".jpg", line_art(16, 16, rng))
    sof = jpeg.find(b"\xff\xc0")
    jpeg_big = jpeg[: sof + 5] + struct.pack(">HH", 65535, 65535) + jpeg[sof + 9 :]
    tiff = bytearray(_enc(".tiff", line_art(16, 16, rng)))
    (ifd,) = struct.unpack_from("<I", tiff, 4)
    (count,) = struct.unpack_from("<H", tiff, ifd)
    for i in range(count):
        tag, _typ = struct.unpack_from("<HH", tiff, ifd + 2 + 12 * i)
        if tag in (256, 257):  # rewrite as LONG 2^31-1
            struct.pack_into("<HHII", tiff, ifd + 2 + 12 * i, tag, 4, 1, 2**31 - 1)
    gif = bytearray(_enc(".gif", cv2.cvtColor(line_art(16, 16, rng), cv2.COLOR_GRAY2BGR)))
    struct.pack_into("<HH", gif, 6, 65535, 65535)
    bmp = bytearray(_enc(".bmp", line_art(16, 16, rng)))
    struct.pack_into("<ii", bmp, 18, 2**31 - 1, -(2**31 - 1))
    webp = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8X" + struct.pack("<I", 10) + b"\0" * 4 + b"\xff" * 6
    side = int(pixel_limit**0.5)
    return {
        "png": png_declaring(big, big),
        "png-wide": png_declaring(big, 1),
        "jpeg": jpeg_big,
        "tiff": bytes(tiff),
        "gif": bytes(gif),
        "bmp": bytes(bmp),
        "webp": webp,
        "png-zlib-at-limit": png_zlib_bomb(side),
        "png-zlib-over-limit": png_zlib_bomb(side + 1),
        "png-truncated-at-limit": png_declaring(side, side, depth=16, color=6),
    }


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randrange(1, 12)):
        op = rng.randrange(4)
        pos = rng.randrange(len(buf)) if buf else 0
        if op == 0 and buf:
            buf[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[pos] = rng.choice([0, 0xFF, 0x7F, 0x80])
        elif op == 2:
            buf[pos:pos] = rng.randbytes(rng.randrange(1, 16))
        elif buf:
            del buf[pos : pos + rng.randrange(1, 16)]
    return bytes(buf)


_FLOATS = (0.0, -0.0, 1.0, -1.0, 1e-30, 3.4e38, -3.4e38, float("inf"), float("-inf"), float("nan"))


def _float(rng: random.Random, scale: float) -> float:
    if rng.random() < 0.3:
        return rng.choice(_FLOATS)
    return rng.uniform(-0.2 * scale, 1.2 * scale)


def _color(rng: random.Random) -> pb.Color:
    pick = lambda: rng.choice([0, 255, 256, 2**32 - 1, rng.randrange(256)])  # noqa: E731
    return pb.Color(r=pick(), g=pick(), b=pick())


def random_fields(rng: random.Random, request: pb.ColorizeRequest, size: float = 80.0) -> None:
    """Fill ``request``'s hints, options, mode and id with random, often hostile, values."""
    for _ in range(rng.choice([0, 1, 3, 20, 1100]) if rng.random() < 0.9 else 0):
        p = request.points.add(x=_float(rng, size), y=_float(rng, size), radius=_float(rng, 40))
        if rng.random() < 0.95:
            p.color.CopyFrom(_color(rng))
    strokes = rng.choice([0, 1, 2, 300])
    for _ in range(strokes):
        s = request.strokes.add(width=_float(rng, 20))
        # One over-long polyline tests max_stroke_points; hundreds of them would only be slow.
        for _ in range(rng.choice([0, 1, 2, 5] + ([4100] if strokes < 3 else []))):
            s.points.add(x=_float(rng, size), y=_float(rng, size))
        if rng.random() < 0.95:
            s.color.CopyFrom(_color(rng))
    request.sketch_mode = rng.choice([0, 1, 2, 2, 3, -1, 2**31 - 1])  # type: ignore[assignment]
    request.output.format = rng.choice([0, 1, 2, 3, 4, -7])  # type: ignore[assignment]
    request.output.quality = rng.choice([0, 1, 50, 100, 101, 2**32 - 1])
    request.output.size = rng.choice([0, 1, 2, 3])  # type: ignore[assignment]
    request.output.overlay_lines = rng.random() < 0.5
    request.output.flat_fill = rng.random() < 0.3
    request.request_id = rng.choice(
        [
            "",
            "id-1",
            "x" * 10_000,
            "\u202e\u0000évil\n\r",
            "".join(chr(rng.randrange(1, 0xD7FF)) for _ in range(40)),
        ]
    )


class CaseGenerator:
    """Reproducible fuzz cases (``seed``) for a gateway whose pixel limit is ``pixel_limit``."""

    def __init__(self, seed: int = 0, *, pixel_limit: int = 4096 * 4096) -> None:
        self._rng = random.Random(seed)
        self._pixel_limit = pixel_limit
        self._bombs: dict[str, bytes] | None = None
        self._pool: list[dict[str, bytes]] = []

    def cases(self, count: int) -> Iterator[FuzzCase]:
        """``count`` cases, cycling through the families so that a small sample covers them all."""
        families: list[Callable[[], FuzzCase]] = [
            self._valid,
            self._mutated,
            self._truncated,
            self._bomb,
            self._fields,
            self._random_bytes,
            self._hint_image,
            self._mutated,
            self._fields,
            self._spliced,
        ]
        for i in range(count):
            yield families[i % len(families)]()

    def _request(self, kind: str, sketch: bytes, **fields: Any) -> FuzzCase:
        return FuzzCase(
            kind,
            pb.ColorizeRequest(request_id=f"{kind}-{self._rng.randrange(10**9)}", sketch=sketch, **fields),
        )

    def _pick_valid(self) -> tuple[str, bytes]:
        # A few image sets of random sizes, made on first use: encoding them all per case is slow.
        if len(self._pool) < 6:
            self._pool.append(valid_images(self._rng))
        images = self._rng.choice(self._pool)
        name = self._rng.choice(sorted(images))
        return name, images[name]

    def _valid(self) -> FuzzCase:
        name, data = self._pick_valid()
        return self._request(f"valid:{name}", data)

    def _mutated(self) -> FuzzCase:
        name, data = self._pick_valid()
        return self._request(f"mutate:{name}", _mutate(data, self._rng))

    def _truncated(self) -> FuzzCase:
        name, data = self._pick_valid()
        return self._request(f"truncate:{name}", data[: self._rng.randrange(len(data))])

    def _spliced(self) -> FuzzCase:
        (a, x), (b, y) = self._pick_valid(), self._pick_valid()
        cut = self._rng.randrange(1, min(len(x), 64))
        return self._request(f"splice:{a}+{b}", x[:cut] + y[cut:])

    def _random_bytes(self) -> FuzzCase:
        magic = self._rng.choice(
            [
                b"",
                b"\x89PNG\r\n\x1a\n",
                b"\xff\xd8",
                b"II*\x00",
                b"MM\x00*",
                b"GIF89a",
                b"BM",
                b"RIFF\0\0\0\0WEBP",
                b"P6\n",
                b"\x00\x00\x00\x0cjP  ",
            ]
        )
        return self._request("random", magic + self._rng.randbytes(self._rng.choice([0, 1, 10, 300, 5000])))

    def _bomb(self) -> FuzzCase:
        if self._bombs is None:  # the real bombs take a moment to compress: made once
            self._bombs = bombs(self._rng, self._pixel_limit)
        name = self._rng.choice(sorted(self._bombs))
        return self._request(f"bomb:{name}", self._bombs[name])

    def _fields(self) -> FuzzCase:
        case = self._request("fields", _enc(".png", line_art(80, 80, self._rng)))
        random_fields(self._rng, case.request)
        return case

    def _hint_image(self) -> FuzzCase:
        name, data = self._pick_valid()
        case = self._request(f"hint_image:{name}", _enc(".png", line_art(40, 40, self._rng)))
        case.request.hint_image = data if self._rng.random() < 0.5 else _mutate(data, self._rng)
        return case


@dataclass
class FuzzReport:
    """What a fuzz run saw."""

    cases: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    #: (kind, code, details) of every answer outside the contract.
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    #: Largest answer latency seen, seconds.
    max_latency_s: float = 0.0
    wall_s: float = 0.0

    def record(self, kind: str, code: str, details: str, latency_s: float) -> None:
        """Judge and count one answer."""
        self.cases += 1
        self.codes[code] = self.codes.get(code, 0) + 1
        self.max_latency_s = max(self.max_latency_s, latency_s)
        if code not in ALLOWED or (code != "OK" and not details.strip()) or "Traceback" in details:
            self.failures.append((kind, code, details[:300]))


async def run_fuzz(
    target: str,
    cases: Iterable[FuzzCase],
    *,
    concurrency: int = 4,
    timeout_s: float = 60.0,
    stream_every: int = 10,
    credentials: grpc.ChannelCredentials | None = None,
    metadata: Sequence[tuple[str, str]] | None = None,
) -> FuzzReport:
    """Send every case (every ``stream_every``-th one on a ColorizeStream, the rest unary) and judge."""
    report = FuzzReport()
    options = [("grpc.max_send_message_length", 2**30), ("grpc.max_receive_message_length", 2**30)]
    channel = open_channel(target, credentials, options)
    queue: asyncio.Queue[tuple[int, FuzzCase] | None] = asyncio.Queue(concurrency * 2)
    started = time.perf_counter()
    async with channel:
        stub = pb_grpc.ColorizerStub(channel)

        async def one(i: int, case: FuzzCase) -> None:
            t0 = time.perf_counter()
            if stream_every and i % stream_every == 0:
                try:
                    replies = [
                        r
                        async for r in stub.ColorizeStream(
                            iter([case.request]), timeout=timeout_s, metadata=metadata
                        )
                    ]
                except grpc.aio.AioRpcError as exc:
                    report.record(
                        case.kind, f"stream:{exc.code().name}", exc.details() or "", time.perf_counter() - t0
                    )
                    return
                if len(replies) != 1:
                    report.record(case.kind, f"stream:{len(replies)} replies", "", time.perf_counter() - t0)
                    return
                reply = replies[0]
                if reply.WhichOneof("outcome") == "result":
                    code, details = "OK", ""
                else:
                    code = next(
                        (c.name for c in grpc.StatusCode if c.value[0] == reply.error.code),
                        str(reply.error.code),
                    )
                    details = reply.error.message
                report.record(case.kind, code, details, time.perf_counter() - t0)
                return
            try:
                await stub.Colorize(case.request, timeout=timeout_s, metadata=metadata)
                code, details = "OK", ""
            except grpc.aio.AioRpcError as exc:
                code, details = exc.code().name, exc.details() or ""
            report.record(case.kind, code, details, time.perf_counter() - t0)

        async def worker() -> None:
            while (item := await queue.get()) is not None:
                await one(*item)

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        for i, case in enumerate(cases):
            await queue.put((i, case))
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    report.wall_s = time.perf_counter() - started
    return report


def sample_requests(count: int, size: int, seed: int = 0) -> list[pb.ColorizeRequest]:
    """Well-formed requests (PNG line art ``size`` x ``size`` with a few point hints) for load runs."""
    rng = random.Random(seed)
    requests = []
    for i in range(count):
        req = pb.ColorizeRequest(request_id=f"load-{i}", sketch=_enc(".png", line_art(size, size, rng)))
        for _ in range(3):
            req.points.add(
                x=rng.uniform(0, size - 1),
                y=rng.uniform(0, size - 1),
                radius=4,
                color=pb.Color(r=rng.randrange(256), g=rng.randrange(256), b=rng.randrange(256)),
            )
        requests.append(req)
    return requests
