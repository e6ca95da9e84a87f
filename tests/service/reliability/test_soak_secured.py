"""``colorizer soak`` against a gateway with TLS and bearer tokens (real certificates, real gRPC).

Like the fuzz command's test: the command runs as a child process, the gateway in the test's loop.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from reliability_helpers import Pki

from service.server import Gateway


async def _soak(out: Path, *flags: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "colorizer.cli",
        "soak",
        "--minutes",
        "0.04",
        "--interval",
        "1",
        "--warmup",
        "0",
        "--concurrency",
        "2",
        "--size",
        "64",
        "--out",
        str(out),
        *flags,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=240)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_soak_reaches_a_tls_and_token_gateway(
    secured_gateway: Gateway, pki: Pki, token_file: Path, tmp_path: Path
) -> None:
    code, err = await _soak(
        tmp_path, "--target", secured_gateway.address, "--ca", str(pki.ca), "--token-file", str(token_file)
    )
    summary = json.loads((tmp_path / "report.json").read_text())
    assert code == 0, err[-2000:]
    assert summary["ok"] > 0 and summary["errors"] == {}
    assert len(summary["samples"]) >= 1 and (tmp_path / "rss.png").stat().st_size > 0


async def test_soak_without_the_token_fails_and_says_why(
    secured_gateway: Gateway, pki: Pki, tmp_path: Path
) -> None:
    code, err = await _soak(tmp_path, "--target", secured_gateway.address, "--ca", str(pki.ca))
    summary = json.loads((tmp_path / "report.json").read_text())
    assert code == 1
    assert summary["ok"] == 0 and set(summary["errors"]) == {"UNAUTHENTICATED"}
    assert "no call succeeded" in err and "UNAUTHENTICATED" in err


async def test_soak_security_flags_without_a_target_are_a_usage_error(
    token_file: Path, tmp_path: Path
) -> None:
    code, err = await _soak(tmp_path, "--token-file", str(token_file))
    assert code == 2
    assert "can only be used with --target" in err
