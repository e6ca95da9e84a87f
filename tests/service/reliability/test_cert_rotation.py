"""The gateway picks up a rotated TLS certificate without a restart (real gRPC, real certificates).

A Kubernetes Secret (cert-manager) is rotated by swapping the mounted files; new connections must
get the new certificate, open ones keep theirs, and a broken rotation must not lock clients out.
"""

from __future__ import annotations

import logging
import os
import shutil
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from gateway_helpers import issue_server_cert, png, sketch_image
from reliability_helpers import Pki

from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc
from service.security import CertificateFiles
from service.server import Gateway
from service.settings import Settings

SKETCH = png(sketch_image(40, 48))
# Each channel dials its own connection (no subchannel shared across channels): a new channel
# means a new TLS handshake, which is when the gateway looks at its files.
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


def _channel(address: str, ca: Path) -> grpc.aio.Channel:
    creds = grpc.ssl_channel_credentials(ca.read_bytes())
    return grpc.aio.secure_channel(address, creds, options=OWN_CONNECTION)


async def _works(address: str, ca: Path) -> bool:
    async with _channel(address, ca) as channel:
        try:
            reply = await pb_grpc.ColorizerStub(channel).Colorize(
                pb.ColorizeRequest(sketch=SKETCH), timeout=20
            )
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc  # a failed handshake, nothing else
            return False
    return (reply.width, reply.height) == (48, 40)


def _swap(src: Path, dst: Path) -> None:
    """Replace ``dst`` in one step, as a Secret volume's symlink swap does."""
    tmp = dst.with_suffix(".new")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


@pytest.fixture
def live(tmp_path: Path, pki: Pki) -> tuple[Path, Path]:
    """The mounted files the gateway reads, starting as the first CA's server pair."""
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    shutil.copyfile(pki.server_cert, cert)
    shutil.copyfile(pki.server_key, key)
    return cert, key


@pytest.fixture
def rotated(tmp_path: Path, pki: Pki) -> tuple[Path, Path, Path]:
    """A server pair signed by the other CA: (cert, key, that CA)."""
    d = tmp_path / "rotated"
    d.mkdir()
    other_ca = pki.ca.with_name("other-ca.pem")
    cert, key = issue_server_cert(d, other_ca, other_ca.with_suffix(".key"))
    return cert, key, other_ca


@pytest.fixture
async def gateway(make_settings: Callable[..., Settings], live: tuple[Path, Path]) -> AsyncIterator[Gateway]:
    server = Gateway(make_settings(tls_cert_file=live[0], tls_key_file=live[1], health_port=0))
    await server.start()
    yield server
    await server.stop(1)


async def test_new_connections_get_the_rotated_certificate_open_ones_keep_theirs(
    gateway: Gateway, pki: Pki, live: tuple[Path, Path], rotated: tuple[Path, Path, Path]
) -> None:
    new_cert, new_key, new_ca = rotated
    assert await _works(gateway.address, pki.ca)
    assert not await _works(gateway.address, new_ca)

    async with _channel(gateway.address, pki.ca) as before:
        stub = pb_grpc.ColorizerStub(before)
        await stub.Colorize(pb.ColorizeRequest(sketch=SKETCH), timeout=20)  # connected, old certificate
        _swap(new_key, live[1])
        _swap(new_cert, live[0])
        assert await _works(gateway.address, new_ca)
        assert not await _works(gateway.address, pki.ca)
        # The connection opened before the rotation goes on with the certificate it started with.
        reply = await stub.Colorize(pb.ColorizeRequest(sketch=SKETCH), timeout=20)
        assert (reply.width, reply.height) == (48, 40)


async def test_a_broken_rotation_keeps_the_current_certificate(
    gateway: Gateway,
    pki: Pki,
    live: tuple[Path, Path],
    rotated: tuple[Path, Path, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    new_cert, new_key, new_ca = rotated
    caplog.set_level(logging.INFO, logger="service")
    # Half a rotation: the new certificate is there, its key is not yet.
    _swap(new_cert, live[0])
    assert await _works(gateway.address, pki.ca)
    assert not await _works(gateway.address, new_ca)
    assert "new TLS files rejected" in caplog.text
    # Garbage in the key file: still the old pair.
    live[1].write_text("not a key\n")
    assert await _works(gateway.address, pki.ca)
    # The key arrives: the rotation completes on the next connection.
    _swap(new_key, live[1])
    assert await _works(gateway.address, new_ca)
    assert "TLS certificate reloaded" in caplog.text


def test_unusable_files_at_start_are_an_error(tmp_path: Path, pki: Pki) -> None:
    other_ca = pki.ca.with_name("other-ca.pem")
    # A certificate with another certificate's key.
    with pytest.raises(ssl.SSLError, match=r"(?i)key values mismatch"):
        CertificateFiles(pki.server_cert, other_ca.with_suffix(".key"))
    with pytest.raises(FileNotFoundError):
        CertificateFiles(tmp_path / "missing.crt", pki.server_key)
