"""TLS, mTLS and bearer-token authentication on a real gateway (real gRPC, real certificates)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from gateway_helpers import metric_value, png, scrape, sketch_image
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from reliability_helpers import Pki

from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc
from service.security import UNAUTHENTICATED_MESSAGE, parse_tokens, token_matches
from service.server import Gateway
from service.settings import Settings

SKETCH = png(sketch_image(40, 48))
TOKEN = "s3cr3t-token-for-the-pipeline-0123456789"
OTHER = "second-valid-token-abcdef"


def _creds(pki: Pki, *, client: tuple[Path, Path] | None = None) -> grpc.ChannelCredentials:
    chain = key = None
    if client is not None:
        chain, key = client[0].read_bytes(), client[1].read_bytes()
    return grpc.ssl_channel_credentials(pki.ca.read_bytes(), private_key=key, certificate_chain=chain)


async def _colorize(channel: grpc.aio.Channel, metadata: Any = None) -> pb.ColorizeResponse:
    return await pb_grpc.ColorizerStub(channel).Colorize(
        pb.ColorizeRequest(sketch=SKETCH), timeout=30, metadata=metadata
    )


async def _code(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value.code()


@pytest.fixture
async def tls_gateway(make_settings: Callable[..., Settings], pki: Pki) -> AsyncIterator[Gateway]:
    gateway = Gateway(
        make_settings(tls_cert_file=pki.server_cert, tls_key_file=pki.server_key, health_port=0)
    )
    await gateway.start()
    yield gateway
    await gateway.stop(1)


async def test_tls_serves_with_the_ca_and_refuses_plaintext(tls_gateway: Gateway, pki: Pki) -> None:
    async with grpc.aio.secure_channel(tls_gateway.address, _creds(pki)) as channel:
        reply = await _colorize(channel)
    assert (reply.width, reply.height) == (48, 40)
    async with grpc.aio.insecure_channel(tls_gateway.address) as channel:
        assert await _code(_colorize(channel)) == grpc.StatusCode.UNAVAILABLE


async def test_probes_get_a_plaintext_health_only_port(tls_gateway: Gateway) -> None:
    assert tls_gateway.health_port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{tls_gateway.health_port}") as channel:
        for service in ("", "colorizer.v1.Colorizer"):
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=5
            )
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        # Only health there: the API is not reachable in plaintext.
        assert await _code(_colorize(channel)) == grpc.StatusCode.UNIMPLEMENTED


async def test_mtls_needs_a_client_certificate_from_the_ca(
    make_settings: Callable[..., Settings], pki: Pki
) -> None:
    gateway = Gateway(
        make_settings(
            tls_cert_file=pki.server_cert, tls_key_file=pki.server_key, tls_client_ca_file=pki.ca
        )
    )
    await gateway.start()
    try:
        ok = _creds(pki, client=(pki.client_cert, pki.client_key))
        async with grpc.aio.secure_channel(gateway.address, ok) as channel:
            assert (await _colorize(channel)).width == 48
        for creds in (_creds(pki), _creds(pki, client=(pki.stranger_cert, pki.stranger_key))):
            async with grpc.aio.secure_channel(gateway.address, creds) as channel:
                assert await _code(_colorize(channel)) == grpc.StatusCode.UNAVAILABLE
    finally:
        await gateway.stop(1)


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    path.write_text(f"# rotated 2026-11-27\n{TOKEN}\n\n  {OTHER}  \n")
    return path


@pytest.fixture
async def auth_gateway(
    make_settings: Callable[..., Settings], tokens_file: Path
) -> AsyncIterator[Gateway]:
    gateway = Gateway(make_settings(auth_tokens_file=tokens_file, log_level="DEBUG"))
    await gateway.start()
    yield gateway
    await gateway.stop(1)


BAD_METADATA = {
    "no metadata": None,
    "no scheme": [("authorization", TOKEN)],
    "wrong token": [("authorization", "Bearer not-the-token")],
    "prefix of a token": [("authorization", f"Bearer {TOKEN[:-1]}")],
    "token plus a byte": [("authorization", f"Bearer {TOKEN}x")],
    "other scheme": [("authorization", f"Basic {TOKEN}")],
    "empty bearer": [("authorization", "Bearer ")],
}


async def test_token_auth_refuses_with_one_fixed_message(
    auth_gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with grpc.aio.insecure_channel(auth_gateway.address) as channel:
        stub = pb_grpc.ColorizerStub(channel)
        for label, metadata in BAD_METADATA.items():
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Colorize(pb.ColorizeRequest(sketch=SKETCH), timeout=10, metadata=metadata)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED, label
            assert info.value.details() == UNAUTHENTICATED_MESSAGE, label
        # Both tokens of the file work; the scheme is case-insensitive, as RFC 6750 says.
        for header in (f"Bearer {TOKEN}", f"bearer {OTHER}"):
            reply = await _colorize(channel, [("authorization", header)])
            assert reply.width == 48
        # Streams and GetModelInfo are behind the check too.
        refused = stub.ColorizeStream(iter([pb.ColorizeRequest(sketch=SKETCH)]), timeout=10)
        assert await _code(refused.read()) == grpc.StatusCode.UNAUTHENTICATED
        assert await _code(stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=5)) == (
            grpc.StatusCode.UNAUTHENTICATED
        )
    text = scrape(auth_gateway.metrics_port)
    refused_count = metric_value(
        text, 'colorizer_requests_total{code="UNAUTHENTICATED",method="/colorizer.v1.Colorizer/Colorize"}'
    )
    assert refused_count == len(BAD_METADATA)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in logged and OTHER not in logged and TOKEN[:-1] not in logged


async def test_health_is_open_and_reflection_is_behind_auth(auth_gateway: Gateway) -> None:
    async with grpc.aio.insecure_channel(auth_gateway.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "colorizer.v1.Colorizer"):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        ask = reflection_pb2.ServerReflectionRequest(list_services="")
        call = stub.ServerReflectionInfo(iter([ask]), timeout=5)
        assert await _code(call.read()) == grpc.StatusCode.UNAUTHENTICATED
        token = [("authorization", f"Bearer {TOKEN}")]
        call = stub.ServerReflectionInfo(iter([ask]), timeout=5, metadata=token)
        reply = await call.read()
        assert "colorizer.v1.Colorizer" in {s.name for s in reply.list_services_response.service}


async def test_rotated_tokens_file_takes_effect_without_restart(
    auth_gateway: Gateway, tokens_file: Path
) -> None:
    new = "rotated-token-987654321"
    tokens_file.write_text(f"{new}\n")
    async with grpc.aio.insecure_channel(auth_gateway.address) as channel:
        assert (await _colorize(channel, [("authorization", f"Bearer {new}")])).width == 48
        refused = _colorize(channel, [("authorization", f"Bearer {TOKEN}")])
        assert await _code(refused) == grpc.StatusCode.UNAUTHENTICATED
        # An emptied file (a botched rotation) keeps the last good tokens instead of locking out.
        tokens_file.write_text("\n")
        assert (await _colorize(channel, [("authorization", f"Bearer {new}")])).width == 48


def test_token_helpers() -> None:
    assert parse_tokens("# c\n a \n\nb\n") == (b"a", b"b")
    accepted = (b"alpha", b"beta")
    assert token_matches(b"beta", accepted)
    assert not token_matches(b"bet", accepted)
    assert not token_matches(b"", accepted)
    assert not token_matches(b"alpha", ())


@pytest.mark.parametrize(
    "fields",
    [
        {"tls_cert_file": "c.pem"},
        {"tls_key_file": "k.pem"},
        {"tls_client_ca_file": "ca.pem"},
        {"triton_tls_ca_file": "ca.pem"},
        {"triton_tls": True, "triton_tls_cert_file": "c.pem"},
    ],
)
def test_incomplete_tls_settings_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Settings(**fields)


def test_an_empty_tokens_file_is_refused_at_start(tmp_path: Path) -> None:
    from service.security import TokenFile

    path = tmp_path / "tokens"
    path.write_text("# nothing yet\n")
    with pytest.raises(ValueError, match="no token"):
        TokenFile(path)
