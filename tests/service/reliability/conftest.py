"""Fixtures of the reliability and security tests."""

from __future__ import annotations

import shutil

import pytest
from reliability_helpers import Pki, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway PKI; needs the ``openssl`` command (present on the CI and dev machines)."""
    assert shutil.which("openssl"), "the TLS tests need the openssl command-line tool"
    return make_pki(tmp_path_factory.mktemp("pki"))
