"""``colorizer fuzz`` against a gateway with TLS and bearer tokens (real certificates, real gRPC).

The command runs as a child process, as a user runs it; the gateway runs in the test's event loop,
so the child is awaited, not waited for.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from reliability_helpers import PIXEL_LIMIT, Pki

from service.server import Gateway


async def _fuzz(*flags: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "colorizer.cli", "fuzz", "--cases", "12", "--concurrency", "2",
        "--pixel-limit", str(PIXEL_LIMIT), "--timeout", "30", *flags,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=240)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_fuzz_reaches_a_tls_and_token_gateway(
    secured_gateway: Gateway, pki: Pki, token_file: Path, tmp_path: Path
) -> None:
    report = tmp_path / "fuzz.json"
    code, _, err = await _fuzz(
        "--target", secured_gateway.address, "--ca", str(pki.ca), "--token-file", str(token_file),
        "--json", str(report),
    )
    summary = json.loads(report.read_text())
    assert code == 0, (err[-2000:], summary["failure_examples"])
    assert summary["cases"] == 12 and summary["failures"] == 0
    # The token and the certificate were used: the calls got past authentication to real answers.
    assert "UNAUTHENTICATED" not in json.dumps(summary["codes"])
    assert set(summary["codes"]) & {"OK", "INVALID_ARGUMENT"}


async def test_fuzz_without_the_token_reports_the_refusals(secured_gateway: Gateway, pki: Pki) -> None:
    code, out, _ = await _fuzz("--target", secured_gateway.address, "--ca", str(pki.ca))
    summary = json.loads(out)
    assert code == 1
    assert summary["failures"] > 0 and "UNAUTHENTICATED" in json.dumps(summary["codes"])


async def test_security_flags_without_a_target_are_a_usage_error(token_file: Path) -> None:
    code, _, err = await _fuzz("--token-file", str(token_file))
    assert code == 2
    assert "can only be used with --target" in err
