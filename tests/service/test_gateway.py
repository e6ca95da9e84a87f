"""The gateway end to end on the embedded backend: a real aio server on a free port, a real stub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import numpy as np
import pytest
import pytest_asyncio
from gateway_helpers import TEST_SIZE, decode_rgb, metric_value, png, scrape, sketch_image
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc
from service.metrics import CPU_STAGES, METRIC_NAMES, STAGES
from service.server import SERVICE_NAME, Gateway

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway(make_settings: Callable[..., Any]) -> AsyncIterator[Gateway]:
    """One embedded-backend gateway shared by this module's tests."""
    gw = Gateway(make_settings(max_batch_size=8, max_wait_ms=30))
    await gw.start()
    yield gw
    await gw.stop(1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def channel(gateway: Gateway) -> AsyncIterator[grpc.aio.Channel]:
    """A client channel to the shared gateway."""
    async with grpc.aio.insecure_channel(gateway.address) as ch:
        yield ch


@pytest.fixture(scope="module")
def stub(channel: grpc.aio.Channel) -> pb_grpc.ColorizerStub:
    """The Colorizer stub on the shared channel."""
    return pb_grpc.ColorizerStub(channel)


def request(image: np.ndarray, request_id: str = "", **kwargs: Any) -> pb.ColorizeRequest:
    """A ColorizeRequest for ``image`` (PNG-encoded)."""
    return pb.ColorizeRequest(request_id=request_id, sketch=png(image), **kwargs)


async def test_unary_round_trip_reports_model_timings_and_id(stub: pb_grpc.ColorizerStub) -> None:
    reply = await stub.Colorize(request(sketch_image(96, 80), "abc"), timeout=30)
    assert reply.request_id == "abc"
    assert (reply.width, reply.height) == (80, 96)
    assert decode_rgb(reply.image).shape == (96, 80, 3)
    assert reply.format == pb.IMAGE_FORMAT_PNG
    assert reply.model_name == "colorizer" and reply.model_version.startswith("1")
    t = reply.timings
    assert t.total_ms > 0 and t.inference_ms > 0 and t.decode_ms > 0
    assert t.total_ms >= t.decode_ms + t.preprocess_ms + t.inference_ms


async def test_server_makes_a_request_id_when_none_is_given(stub: pb_grpc.ColorizerStub) -> None:
    reply = await stub.Colorize(request(sketch_image(32, 32)), timeout=30)
    assert len(reply.request_id) >= 16


@pytest.mark.parametrize(("height", "width"), [(333, 517), (517, 333)])
async def test_output_has_the_input_size_for_odd_sizes(
    stub: pb_grpc.ColorizerStub, height: int, width: int
) -> None:
    reply = await stub.Colorize(request(sketch_image(height, width)), timeout=30)
    assert decode_rgb(reply.image).shape == (height, width, 3)
    assert (reply.height, reply.width) == (height, width)


async def test_model_size_output_is_the_square_canvas(stub: pb_grpc.ColorizerStub) -> None:
    options = pb.OutputOptions(size=pb.OUTPUT_SIZE_MODEL, format=pb.IMAGE_FORMAT_JPEG, quality=80)
    reply = await stub.Colorize(request(sketch_image(50, 90), output=options), timeout=30)
    assert reply.format == pb.IMAGE_FORMAT_JPEG
    assert reply.image[:2] == b"\xff\xd8"  # JPEG magic
    assert decode_rgb(reply.image).shape == (TEST_SIZE, TEST_SIZE, 3)


async def test_alpha_png_keeps_its_size(stub: pb_grpc.ColorizerStub) -> None:
    gray = sketch_image(121, 77)
    bgra = np.zeros((121, 77, 4), np.uint8)  # transparent paper, opaque black lines
    bgra[..., 3] = 255 - gray
    reply = await stub.Colorize(pb.ColorizeRequest(sketch=png(bgra)), timeout=30)
    assert decode_rgb(reply.image).shape == (121, 77, 3)


async def test_hints_change_the_output_where_they_are_placed(make_settings: Callable[..., Any]) -> None:
    # The model's own response to a hint, so the page is left as it painted it: with the page
    # kept white, the hinted page region turns from white to the model's colors everywhere
    # (that behaviour is tests/service/test_keep_paper.py's).
    gw = Gateway(make_settings(keep_paper=False))
    await gw.start()
    try:
        async with grpc.aio.insecure_channel(gw.address) as channel:
            await _hint_changes_pixels_near_it(pb_grpc.ColorizerStub(channel))
    finally:
        await gw.stop(1)


async def _hint_changes_pixels_near_it(stub: pb_grpc.ColorizerStub) -> None:
    size = 128
    image = sketch_image(size, size, seed=3)
    # The model's own colors, resized: the guided upscale would move colors between the test
    # sketch's random line-bounded cells and blur where the hint acted.
    resize = pb.OutputOptions(upscale=pb.UPSCALE_RESIZE)
    plain = decode_rgb((await stub.Colorize(request(image, output=resize), timeout=30)).image).astype(int)
    hint = pb.PointHint(x=32, y=32, radius=12, color=pb.Color(r=255, g=0, b=0))
    hinted_reply = await stub.Colorize(request(image, points=[hint], output=resize), timeout=30)
    hinted = decode_rgb(hinted_reply.image).astype(int)
    assert hinted_reply.hint_cells > 0
    near = np.abs(hinted - plain)[20:44, 20:44].mean()
    far = np.abs(hinted - plain)[100:, 100:].mean()
    # A random model spreads a hint only a little, but it does change the pixels under it.
    assert near > 0
    assert near > far


async def test_flat_fill_paints_regions_in_one_color_and_the_hint_region_in_its_color(
    stub: pb_grpc.ColorizerStub,
) -> None:
    import cv2

    # Two closed boxes side by side (a 3 px gap in the shared wall); a red hint in the left one.
    image = np.full((90, 140), 255, np.uint8)
    cv2.rectangle(image, (10, 10), (130, 80), 0, 2)
    cv2.line(image, (70, 10), (70, 80), 0, 2)
    image[44:47, 69:72] = 255
    red = pb.PointHint(x=40, y=45, color=pb.Color(r=230, g=20, b=20))
    reply = await stub.Colorize(
        request(image, points=[red], output=pb.OutputOptions(flat_fill=True)), timeout=30
    )
    out = decode_rgb(reply.image)
    assert out.shape == (90, 140, 3)
    assert (out[15:76, 15:66] == (230, 20, 20)).all()  # the hinted box: the hint's color, flat
    # The other box did not take the hint through the gap (the test model's colors are noise,
    # too scattered to flatten: that box keeps them).
    right = out[15:76, 75:126].reshape(-1, 3)
    assert not (right == (230, 20, 20)).all(axis=1).any()
    assert (out[10, 10:131] == 0).all()  # the lines are drawn over the fills


async def test_flat_fill_with_model_size_is_invalid(stub: pb_grpc.ColorizerStub) -> None:
    options = pb.OutputOptions(flat_fill=True, size=pb.OUTPUT_SIZE_MODEL)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Colorize(request(sketch_image(40, 40), output=options), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "flat_fill" in (info.value.details() or "")


async def test_stream_returns_all_100_items_matched_by_id(stub: pb_grpc.ColorizerStub) -> None:
    sizes = {f"item-{i}": (24 + (i % 5) * 8, 40 + (i % 3) * 8) for i in range(100)}
    images = {rid: png(sketch_image(h, w, seed=i)) for i, (rid, (h, w)) in enumerate(sizes.items())}

    async def requests() -> AsyncIterator[pb.ColorizeRequest]:
        for rid, data in images.items():
            yield pb.ColorizeRequest(request_id=rid, sketch=data)

    replies = [r async for r in stub.ColorizeStream(requests(), timeout=120)]
    assert sorted(r.request_id for r in replies) == sorted(sizes)
    for r in replies:
        assert r.WhichOneof("outcome") == "result", r.error.message
        assert (r.result.height, r.result.width) == sizes[r.request_id]
        assert r.result.request_id == r.request_id


async def test_a_bad_stream_item_gets_an_error_and_the_stream_goes_on(stub: pb_grpc.ColorizerStub) -> None:
    items = [
        pb.ColorizeRequest(request_id="good-1", sketch=png(sketch_image(32, 32))),
        pb.ColorizeRequest(request_id="bad", sketch=b"not an image"),
        pb.ColorizeRequest(request_id="good-2", sketch=png(sketch_image(48, 32))),
    ]
    replies = {r.request_id: r async for r in stub.ColorizeStream(iter(items), timeout=60)}
    assert set(replies) == {"good-1", "bad", "good-2"}
    assert replies["bad"].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "sketch" in replies["bad"].error.message
    assert replies["good-2"].result.height == 48


async def test_get_model_info_describes_model_and_limits(
    stub: pb_grpc.ColorizerStub, gateway: Gateway
) -> None:
    info = await stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
    assert info.model_name == "colorizer" and info.model_version.startswith("1")
    assert (info.input_size, info.size_multiple, info.hint_scale) == (TEST_SIZE, 16, 4)
    assert info.backend == "embedded" and info.max_batch_size == 8
    assert info.limits.max_points == gateway.settings.max_points
    assert info.limits.max_sketch_pixels == gateway.settings.max_sketch_pixels


async def test_health_is_serving_for_both_service_names(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE_NAME):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_services(channel: grpc.aio.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def ask() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")
        yield reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE_NAME)

    replies = [r async for r in stub.ServerReflectionInfo(ask(), timeout=5)]
    names = {s.name for s in replies[0].list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names
    assert replies[1].file_descriptor_response.file_descriptor_proto  # grpcurl can describe it


async def test_concurrent_load_forms_batches_larger_than_one(
    stub: pb_grpc.ColorizerStub, gateway: Gateway
) -> None:
    before = scrape(gateway.metrics_port)
    data = png(sketch_image(64, 64))
    replies = await asyncio.gather(
        *(stub.Colorize(pb.ColorizeRequest(sketch=data), timeout=60) for _ in range(24))
    )
    assert len(replies) == 24
    after = scrape(gateway.metrics_port)
    batches = metric_value(after, "colorizer_batch_size_count") - metric_value(
        before, "colorizer_batch_size_count"
    )
    images = metric_value(after, "colorizer_batch_size_sum") - metric_value(
        before, "colorizer_batch_size_sum"
    )
    assert images == 24
    assert batches < 24  # so at least one batch held more than one image
    singles = metric_value(after, 'colorizer_batch_size_bucket{le="1.0"}') - metric_value(
        before, 'colorizer_batch_size_bucket{le="1.0"}'
    )
    assert singles < batches


async def test_metrics_endpoint_serves_every_listed_metric(
    stub: pb_grpc.ColorizerStub, gateway: Gateway
) -> None:
    await stub.Colorize(request(sketch_image(32, 32)), timeout=30)
    text = scrape(gateway.metrics_port)
    for name in METRIC_NAMES:
        assert f"# TYPE {name} " in text or f"# TYPE {name.removesuffix('_total')} " in text, name
    for stage in STAGES:
        assert metric_value(text, f'colorizer_stage_seconds_count{{stage="{stage}"}}') >= 1, stage
    method = "/colorizer.v1.Colorizer/Colorize"
    assert metric_value(text, f'colorizer_requests_total{{code="OK",method="{method}"}}') >= 1
    assert metric_value(text, "colorizer_backend_ready") == 1


async def test_stage_cpu_counters_grow_and_stay_within_their_stages_wall_time(
    stub: pb_grpc.ColorizerStub, gateway: Gateway
) -> None:
    before = scrape(gateway.metrics_port)
    await stub.Colorize(request(sketch_image(400, 300)), timeout=30)
    after = scrape(gateway.metrics_port)

    def grew(series: str) -> float:
        return metric_value(after, series) - metric_value(before, series)

    cpu = {stage: grew(f'colorizer_stage_cpu_seconds_total{{stage="{stage}"}}') for stage in CPU_STAGES}
    wall = {stage: grew(f'colorizer_stage_seconds_sum{{stage="{stage}"}}') for stage in STAGES}
    assert all(seconds > 0 for seconds in cpu.values()), cpu
    # One thread's CPU inside a stage cannot exceed that stage's wall time (encode is inside
    # postprocess's wall time and counted apart from it).
    assert cpu["decode"] <= wall["decode"]
    assert cpu["preprocess"] <= wall["preprocess"]
    assert cpu["postprocess"] + cpu["encode"] <= wall["postprocess"]


async def test_request_counter_records_the_error_code(stub: pb_grpc.ColorizerStub, gateway: Gateway) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Colorize(pb.ColorizeRequest(sketch=b""), timeout=10)
    text = scrape(gateway.metrics_port)
    method = "/colorizer.v1.Colorizer/Colorize"
    assert metric_value(text, f'colorizer_requests_total{{code="INVALID_ARGUMENT",method="{method}"}}') >= 1
    assert metric_value(text, 'colorizer_items_total{code="INVALID_ARGUMENT"}') >= 1
