"""Fixtures of the reliability and security tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from reliability_helpers import PIXEL_LIMIT, Pki, make_pki

from bench.soak import LocalGateway
from service.server import Gateway
from service.settings import Settings

#: The one token of :func:`token_file` (what a pipeline's Secret would hold).
PIPELINE_TOKEN = "pipeline-token-0123456789abcdef"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway PKI; needs the ``openssl`` command (present on the CI and dev machines)."""
    assert shutil.which("openssl"), "the TLS tests need the openssl command-line tool"
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def gateway_process(
    model_repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalGateway]:
    """One ``colorizer serve`` child for the fuzz and overload tests (its RSS is measured alone).

    A 256 canvas keeps the tiny model slow enough to overload from the test process; 4 queued +
    2 x 2 in batches = 8 calls admitted at once; a 1 Mpx limit; two image threads.
    """
    env = {
        "COLORIZER_MODEL_REPOSITORY": str(model_repository),
        "COLORIZER_INPUT_SIZE": "256",
        "COLORIZER_MAX_BATCH_SIZE": "2",
        "COLORIZER_MAX_QUEUE": "4",
        "COLORIZER_MAX_SKETCH_PIXELS": str(PIXEL_LIMIT),
        "COLORIZER_INTRA_OP_THREADS": "1",
        "COLORIZER_WORKERS": "2",
        "COLORIZER_GRACE_S": "2",
        "COLORIZER_LOG_LEVEL": "WARNING",
    }
    server = LocalGateway(env, log_path=tmp_path_factory.mktemp("gateway-process") / "gateway.log")
    server.start()
    yield server
    assert server.stop() == 0, "the gateway did not exit cleanly"


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    """A tokens file holding :data:`PIPELINE_TOKEN`."""
    path = tmp_path / "token"
    path.write_text(f"{PIPELINE_TOKEN}\n")
    return path


@pytest.fixture
async def secured_gateway(
    make_settings: Callable[..., Settings], pki: Pki, token_file: Path
) -> AsyncIterator[Gateway]:
    """An in-process gateway with TLS (the PKI's server pair) and the bearer token of ``token_file``."""
    gateway = Gateway(
        make_settings(
            tls_cert_file=pki.server_cert,
            tls_key_file=pki.server_key,
            auth_tokens_file=token_file,
            max_sketch_pixels=PIXEL_LIMIT,
            health_port=0,
        )
    )
    await gateway.start()
    yield gateway
    await gateway.stop(1)
