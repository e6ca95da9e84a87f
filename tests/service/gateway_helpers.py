"""Helpers shared by the gateway tests (images, metrics, a gateway in a thread, a throwaway PKI).

The PKI is made with the openssl CLI: a CA, a server certificate for 127.0.0.1/localhost, a
client certificate from the same CA, and a client certificate from an unrelated CA (a stranger).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

#: Canvas side used by the tests (small: fast on 2 cores).
TEST_SIZE = 64


def sketch_image(height: int, width: int, *, seed: int = 0) -> np.ndarray:
    """Gray line art: white paper with a few dark lines and circles."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width), 255, np.uint8)
    for _ in range(6):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(img, p1, p2, 0, 2)
    cv2.circle(img, (width // 2, height // 2), min(height, width) // 4, 0, 2)
    return img


def png(image: np.ndarray) -> bytes:
    """PNG bytes of a gray, BGR or BGRA image."""
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def decode_rgb(data: bytes) -> np.ndarray:
    """An encoded image as RGB uint8."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None, "response image does not decode"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def scrape(metrics_port: int) -> str:
    """The text of the gateway's /metrics page."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        return response.read().decode()


def metric_value(text: str, sample: str) -> float:
    """The value of one sample line (``name{labels}``) in a Prometheus text page, 0 if absent."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files the TLS tests use."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _issue(name: str, subject: str, ca: str, cwd: Path, san: str | None = None) -> None:
    """A P-256 key and a certificate for ``subject`` signed by ``ca`` (<ca>.pem / <ca>.key)."""
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key", cwd=cwd)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=cwd)
    ext = cwd / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext.name, "-out", f"{name}.pem",
        cwd=cwd,
    )


def _ca(name: str, cwd: Path) -> None:
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key", cwd=cwd)
    _openssl(
        "req", "-x509", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-days", "2",
        "-sha256", "-out", f"{name}.pem", cwd=cwd,
    )


def issue_server_cert(d: Path, ca_pem: Path, ca_key: Path, name: str = "server") -> tuple[Path, Path]:
    """A localhost server certificate and key in ``d``, signed by the given CA (for rotations)."""
    shutil.copyfile(ca_pem, d / "signer.pem")
    shutil.copyfile(ca_key, d / "signer.key")
    _issue(name, "/CN=localhost", "signer", d, san="DNS:localhost,IP:127.0.0.1")
    return d / f"{name}.pem", d / f"{name}.key"


def make_pki(d: Path) -> Pki:
    """Make the CA, server, client and stranger certificates in ``d``."""
    _ca("ca", d)
    _ca("other-ca", d)
    _issue("server", "/CN=localhost", "ca", d, san="DNS:localhost,IP:127.0.0.1")
    _issue("client", "/CN=pipeline-client", "ca", d)
    _issue("stranger", "/CN=stranger", "other-ca", d)
    return Pki(
        ca=d / "ca.pem",
        server_cert=d / "server.pem",
        server_key=d / "server.key",
        client_cert=d / "client.pem",
        client_key=d / "client.key",
        stranger_cert=d / "stranger.pem",
        stranger_key=d / "stranger.key",
    )


@contextlib.contextmanager
def gateway_in_thread(settings: Any) -> Iterator[str]:
    """Run a gateway with ``settings`` on its own event loop in a thread; yields ``host:port``.

    For callers that run ``asyncio.run`` themselves (the CLI commands), which cannot share a loop
    with the gateway.
    """
    from service.server import running_server

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def serve() -> None:
        state["stop"] = asyncio.Event()
        try:
            async with running_server(settings) as address:
                state["address"] = address
                ready.set()
                await state["stop"].wait()
        except BaseException as exc:
            state["error"] = exc
            ready.set()
            raise

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(120), "gateway did not start"
    if "error" in state:
        thread.join(30)
        loop.close()
        raise state["error"]
    try:
        yield state["address"]
    finally:
        loop.call_soon_threadsafe(state["stop"].set)
        thread.join(30)
        loop.close()
