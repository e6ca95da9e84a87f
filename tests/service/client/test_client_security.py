"""The client and its CLI against a real gateway with TLS (and mTLS) and bearer-token auth."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import grpc
import pytest
from gateway_helpers import Pki, gateway_in_thread, png, sketch_image

from colorizer.cli import main
from service.client import (
    ClientError,
    ColorizerClient,
    RetryPolicy,
    SyncColorizerClient,
    build_request,
    read_token_file,
)

TOKEN = "client-test-token-0123456789abcdef"
NO_RETRY = RetryPolicy(attempts=1)
SKETCH = png(sketch_image(40, 48))


def write_sketch(path: Path, height: int, width: int) -> Path:
    path.write_bytes(png(sketch_image(height, width)))
    return path


def image_size(path: Path) -> tuple[int, int]:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, f"{path} does not decode"
    return img.shape[0], img.shape[1]


@pytest.fixture(scope="module")
def tokens_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gateway's accepted tokens; also a valid client token file (the first line counts)."""
    path = tmp_path_factory.mktemp("client-tokens") / "tokens"
    path.write_text(f"\n  {TOKEN}  \n# a comment the client never reads\n")
    return path


@pytest.fixture(scope="module")
def secure_address(make_settings: Callable[..., Any], pki: Pki, tokens_file: Path) -> Iterator[str]:
    """A gateway speaking TLS only and wanting a bearer token, for the whole module."""
    settings = make_settings(
        grace_s=1, tls_cert_file=pki.server_cert, tls_key_file=pki.server_key, auth_tokens_file=tokens_file
    )
    with gateway_in_thread(settings) as address:
        yield address


@pytest.fixture
def wrong_token_file(tmp_path: Path) -> Path:
    path = tmp_path / "wrong-token"
    path.write_text("not-the-token\n")
    return path


def test_cli_colorize_with_ca_and_token_file(
    secure_address: str, pki: Pki, tokens_file: Path, tmp_path: Path
) -> None:
    sketch = write_sketch(tmp_path / "s.png", 70, 90)
    out = tmp_path / "out.png"
    args = ["colorize", str(sketch), "-o", str(out), "--server", secure_address, "--ca", str(pki.ca)]
    assert main([*args, "--token-file", str(tokens_file)]) == 0
    assert image_size(out) == (70, 90)


def test_cli_wrong_token_fails_with_an_authentication_message(
    secure_address: str,
    pki: Pki,
    wrong_token_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sketch = write_sketch(tmp_path / "s.png", 32, 32)
    out = tmp_path / "out.png"
    args = ["colorize", str(sketch), "-o", str(out), "--server", secure_address, "--ca", str(pki.ca)]
    assert main([*args, "--token-file", str(wrong_token_file)]) == 1
    err = capsys.readouterr().err
    assert "UNAUTHENTICATED" in err and "authentication failed" in err
    assert "not-the-token" not in err and "not-the-token" not in caplog.text
    assert not out.exists()


def test_cli_batch_with_ca_and_token_file(
    secure_address: str, pki: Pki, tokens_file: Path, tmp_path: Path
) -> None:
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    write_sketch(in_dir / "a.png", 40, 56)
    args = ["batch", str(in_dir), str(out_dir), "--server", secure_address, "--no-progress"]
    assert main([*args, "--ca", str(pki.ca), "--token-file", str(tokens_file)]) == 0
    assert image_size(out_dir / "a.png") == (40, 56)


async def test_library_tls_without_token_is_unauthenticated(secure_address: str, pki: Pki) -> None:
    async with ColorizerClient(secure_address, root_certificates_file=pki.ca, retry=NO_RETRY) as client:
        with pytest.raises(ClientError) as info:
            await client.colorize(build_request(SKETCH))
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "authentication failed" in str(info.value) and "bearer token" in str(info.value)


async def test_library_plaintext_to_a_tls_gateway_is_unavailable(secure_address: str) -> None:
    async with ColorizerClient(secure_address, token=TOKEN, retry=NO_RETRY, timeout_s=10) as client:
        with pytest.raises(ClientError) as info:
            await client.model_info()
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    assert "connect with TLS" in str(info.value)


def test_sync_client_with_tls_token_and_stream(secure_address: str, pki: Pki) -> None:
    with SyncColorizerClient(secure_address, root_certificates_file=pki.ca, token=TOKEN) as client:
        assert client.model_info().input_size > 0
        result = client.colorize(build_request(SKETCH))
    assert (result.width, result.height) == (48, 40)


async def test_stream_carries_the_token(secure_address: str, pki: Pki) -> None:
    async with ColorizerClient(secure_address, root_certificates_file=pki.ca, token=TOKEN) as client:
        replies = [r async for r in client.colorize_stream([build_request(SKETCH, request_id="a")])]
    assert [r.result.request_id for r in replies] == ["a"]


def test_mtls_needs_the_client_certificate(
    make_settings: Callable[..., Any],
    pki: Pki,
    tokens_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings(
        grace_s=1,
        tls_cert_file=pki.server_cert,
        tls_key_file=pki.server_key,
        tls_client_ca_file=pki.ca,
        auth_tokens_file=tokens_file,
    )
    sketch = write_sketch(tmp_path / "s.png", 30, 50)
    capsys.readouterr()
    with gateway_in_thread(settings) as address:
        mtls = ["--ca", str(pki.ca), "--cert", str(pki.client_cert), "--key", str(pki.client_key)]
        base = ["colorize", str(sketch), "--server", address, "--token-file", str(tokens_file)]
        assert main([*base, "-o", str(tmp_path / "ok.png"), *mtls]) == 0
        assert image_size(tmp_path / "ok.png") == (30, 50)
        # Without a client certificate (or with a stranger's) the handshake fails.
        stranger = ["--cert", str(pki.stranger_cert), "--key", str(pki.stranger_key)]
        for extra in ([], stranger):
            no = tmp_path / "no.png"
            assert main([*base, "-o", str(no), "--ca", str(pki.ca), "--retries", "1", *extra]) == 1
            assert not no.exists()
            assert "TLS connection failed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--cert", "c.pem"], "--cert and --key"),
        (["--key", "k.pem"], "--cert and --key"),
        (["--tls"], "only be used with --server"),
        (["--token-file", "t"], "only be used with --server"),
    ],
)
@pytest.mark.parametrize("command", ["colorize", "batch"])
def test_cli_refuses_inconsistent_security_flags(
    command: str, flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sketch = write_sketch(tmp_path / "s.png", 16, 16)
    server = [] if message == "only be used with --server" else ["--server", "127.0.0.1:1"]
    target = ["-o", str(tmp_path / "o.png")] if command == "colorize" else [str(tmp_path / "out")]
    src = str(sketch) if command == "colorize" else str(tmp_path)
    assert main([command, src, *target, *server, *flags]) == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_unreadable_or_empty_token_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sketch = write_sketch(tmp_path / "s.png", 16, 16)
    empty = tmp_path / "empty"
    empty.write_text("\n  \n")
    spaced = tmp_path / "spaced"
    spaced.write_text("Bearer abc\n")
    base = ["colorize", str(sketch), "-o", str(tmp_path / "o.png"), "--server", "127.0.0.1:1"]
    for path, message in ((tmp_path / "missing", "cannot read"), (empty, "no token"), (spaced, "spaces")):
        assert main([*base, "--token-file", str(path)]) == 2
        assert message in capsys.readouterr().err


def test_read_token_file_takes_the_first_non_empty_line(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_text("\n\n  first  \nsecond\n")
    assert read_token_file(path) == "first"
    with pytest.raises(ValueError, match="printable ASCII"):
        ColorizerClient("127.0.0.1:1", token="two words")
