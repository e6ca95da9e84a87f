"""Fixtures for the client tests: a real gateway on a free port, run in a background thread.

The CLI commands call ``asyncio.run`` themselves, so the gateway they talk to with ``--server``
cannot share their event loop: it runs on its own loop in a thread for the whole module. The
model is the session's tiny random-weight repository from tests/service/conftest.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gateway_helpers import Pki, gateway_in_thread, make_pki


@pytest.fixture(scope="module")
def server_address(make_settings: Callable[..., Any]) -> Iterator[str]:
    """``host:port`` of a gateway serving the tiny model (embedded backend) during the module."""
    with gateway_in_thread(make_settings(grace_s=1)) as address:
        yield address


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway PKI (CA, server, client, stranger); needs the ``openssl`` command."""
    assert shutil.which("openssl"), "the TLS tests need the openssl command-line tool"
    return make_pki(tmp_path_factory.mktemp("client-pki"))
