"""Hostile input against a real gateway process: no crash, no INTERNAL/UNKNOWN, bounded memory.

The gateway runs as a ``colorizer serve`` child process so that its RSS is measured alone. The
full run is ``colorizer fuzz --cases 5000``; here a 200-case sample and a hypothesis search over
the message fields.
"""

from __future__ import annotations

import grpc
import pytest
from gateway_helpers import png, sketch_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import PIXEL_LIMIT

from bench.fuzz import ALLOWED, CaseGenerator, run_fuzz
from bench.soak import LocalGateway, RssSampler
from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc

pytestmark = pytest.mark.slow

#: How far the gateway's RSS may rise above its level before the run while bombs at the limit
#: decode (two image threads; a 16-bit RGBA image at the limit is 8 MiB decoded). Before the
#: 8-bit-first decoding fix one such decode took ~55 MiB at this limit (900 MiB at 16 Mpx).
RSS_BOUND_MB = 200


async def test_fuzz_sample_gets_only_contract_answers_and_bounded_memory(
    gateway_process: LocalGateway,
) -> None:
    gateway = gateway_process
    cases = list(CaseGenerator(seed=1, pixel_limit=PIXEL_LIMIT).cases(200))
    families = {c.kind.split(":")[0] for c in cases}
    assert families == {"valid", "mutate", "truncate", "splice", "random", "bomb", "fields", "hint_image"}
    idle = gateway.rss()
    async with RssSampler(gateway.rss, interval_s=0.05) as rss:
        report = await run_fuzz(gateway.address, cases, concurrency=4, timeout_s=60)
    assert report.failures == [], report.failures[:5]
    assert report.cases == 200 and report.codes.get("OK", 0) >= 10  # valid images do get colored
    assert gateway.returncode is None, "the gateway died"
    assert (rss.peak - idle) / 2**20 < RSS_BOUND_MB, f"RSS rose {(rss.peak - idle) / 2**20:.0f} MiB"


_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-100, 200))
_u32 = st.one_of(st.integers(0, 300), st.just(2**32 - 1))
_colors = st.builds(pb.Color, r=_u32, g=_u32, b=_u32)
_points = st.builds(pb.PointHint, x=_floats, y=_floats, radius=_floats, color=st.one_of(st.none(), _colors))
_strokes = st.builds(
    pb.StrokeHint,
    points=st.lists(st.builds(pb.Point, x=_floats, y=_floats), max_size=6),
    width=_floats,
    color=st.one_of(st.none(), _colors),
)
_enums = st.integers(-3, 6)
_requests = st.builds(
    pb.ColorizeRequest,
    request_id=st.text(max_size=300),
    sketch_mode=_enums,
    points=st.lists(_points, max_size=12),
    strokes=st.lists(_strokes, max_size=4),
    hint_image=st.one_of(st.just(b""), st.binary(max_size=64)),
    output=st.builds(
        pb.OutputOptions,
        format=_enums,
        quality=_u32,
        size=_enums,
        overlay_lines=st.booleans(),
        flat_fill=st.booleans(),
    ),
)
SKETCH = png(sketch_image(48, 56))


def test_hypothesis_message_fields_get_contract_answers(gateway_process: LocalGateway) -> None:
    gateway = gateway_process
    with grpc.insecure_channel(gateway.address) as channel:
        stub = pb_grpc.ColorizerStub(channel)

        @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(request=_requests)
        def check(request: pb.ColorizeRequest) -> None:
            request.sketch = SKETCH
            try:
                stub.Colorize(request, timeout=30)
            except grpc.RpcError as exc:
                code = exc.code()  # type: ignore[attr-defined]
                assert code.name in ALLOWED, (code, exc.details())  # type: ignore[attr-defined]
                assert exc.details(), code  # type: ignore[attr-defined]

        check()
    assert gateway.returncode is None
