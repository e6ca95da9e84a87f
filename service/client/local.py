"""Local mode: run the real gateway in this process, on a free localhost port, for the CLI commands.

Without ``--server`` the commands start the same gateway ``colorizer serve`` runs (embedded
backend) and talk to it over gRPC, so local and remote use share one code path.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

logger = logging.getLogger("service.client")


@contextlib.asynccontextmanager
async def local_gateway(model_repository: Path, **overrides: Any) -> AsyncIterator[str]:
    """Serve ``model_repository`` on the embedded backend for the block; yields ``host:port``.

    ``overrides`` are further :class:`service.settings.Settings` fields (e.g. ``input_size``).
    """
    # Imported here: only local mode needs the server side (onnxruntime, pydantic).
    from service.server import running_server
    from service.settings import Settings

    settings = Settings(
        host="127.0.0.1",
        port=0,
        metrics_port=0,
        backend="embedded",
        model_repository=Path(model_repository),
        grace_s=overrides.pop("grace_s", 2.0),
        **overrides,
    )
    async with running_server(settings) as address:
        logger.info("local gateway on %s (model repository %s)", address, model_repository)
        yield address


def add_connection_arguments(parser: Any) -> None:
    """Flags shared by the client commands: --server, --timeout, TLS/token, local-mode model options."""
    from service.client.security_args import add_security_arguments

    parser.add_argument(
        "--server",
        metavar="TARGET",
        help="gateway to use: HOST:PORT, or every replica with dns:///NAME:PORT (a headless "
        "Service) or ipv4:H1:P1,H2:P2 (calls go round robin over them); without it a local "
        "gateway runs the embedded backend in this process",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per call (default 120)")
    parser.add_argument(
        "--retries",
        type=int,
        default=5,
        help="tries per image on UNAVAILABLE, RESOURCE_EXHAUSTED or CANCELLED (by the server)",
    )
    add_security_arguments(parser)
    local = parser.add_argument_group("local mode (no --server)")
    local.add_argument(
        "--model-repository",
        type=Path,
        default=Path("model_repository"),
        help="Triton-layout repository with colorizer/<version>/model.onnx (default model_repository)",
    )
    local.add_argument(
        "--input-size", type=int, default=None, help="model canvas side (default: the server's)"
    )


@contextlib.asynccontextmanager
async def local_gateway_for(model_repository: Path, input_size: int | None = None) -> AsyncIterator[str]:
    """:func:`local_gateway`, with a start-up failure reported as :class:`ClientError` UNAVAILABLE."""
    import grpc

    from service.client.client import ClientError
    from service.errors import ColorizerError

    overrides = {"input_size": input_size} if input_size else {}
    stack = contextlib.AsyncExitStack()
    try:
        address = await stack.enter_async_context(local_gateway(model_repository, **overrides))
    except (ColorizerError, OSError, ValueError) as exc:
        # One error type for the commands: a local gateway that cannot start is "unavailable".
        raise ClientError(
            grpc.StatusCode.UNAVAILABLE, f"cannot start the local gateway: {exc}", "local"
        ) from None
    async with stack:
        yield address


@contextlib.asynccontextmanager
async def gateway_address(args: Any) -> AsyncIterator[str]:
    """``args.server`` if given, else the address of a local gateway running for the block."""
    if args.server:
        yield args.server
        return
    async with local_gateway_for(args.model_repository, args.input_size) as address:
        yield address
