"""Helpers of the reliability and security tests: a throwaway PKI made with the openssl CLI.

The certificates are made once per session (conftest.py): a CA, a server certificate for 127.0.0.1/localhost,
a client certificate from the same CA, and a client certificate from an unrelated CA (a stranger).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

#: The pixel limit of the shared gateway process (the fuzz bombs are made at and over it).
PIXEL_LIMIT = 1024 * 1024


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
