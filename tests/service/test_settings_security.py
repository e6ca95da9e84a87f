"""The reliability and security settings: env names the Helm chart sets, and their defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings


def test_security_env_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "COLORIZER_TLS_CERT_FILE": "/etc/colorizer/tls/tls.crt",
        "COLORIZER_TLS_KEY_FILE": "/etc/colorizer/tls/tls.key",
        "COLORIZER_TLS_CLIENT_CA_FILE": "/etc/colorizer/client-ca/ca.crt",
        "COLORIZER_AUTH_TOKENS_FILE": "/etc/colorizer/auth/tokens",
        "COLORIZER_HEALTH_PORT": "8081",
        "COLORIZER_REFLECTION": "false",
        "COLORIZER_TRITON_TLS": "true",
        "COLORIZER_TRITON_TLS_CA_FILE": "/etc/colorizer/triton-ca/ca.crt",
        "COLORIZER_MAX_IN_FLIGHT": "12",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = Settings()
    assert s.tls_cert_file == Path("/etc/colorizer/tls/tls.crt")
    assert s.tls_key_file == Path("/etc/colorizer/tls/tls.key")
    assert s.tls_client_ca_file == Path("/etc/colorizer/client-ca/ca.crt")
    assert s.auth_tokens_file == Path("/etc/colorizer/auth/tokens")
    assert (s.health_port, s.reflection, s.triton_tls) == (8081, False, True)
    assert s.triton_tls_ca_file == Path("/etc/colorizer/triton-ca/ca.crt")
    assert s.in_flight_limit() == 12


def test_security_defaults_are_open_and_plaintext() -> None:
    s = Settings()
    assert (s.tls_cert_file, s.auth_tokens_file, s.health_port, s.triton_tls) == (None, None, None, False)
    assert s.reflection
    assert s.in_flight_limit() == s.max_queue + 2 * s.max_batch_size
