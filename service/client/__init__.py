"""Python client for the colorizer gateway, and the ``colorize`` / ``batch`` commands.

``from service.client import ColorizerClient`` works as usual; the names are loaded on first use
(PEP 562) so that ``colorizer --help``, which imports the command modules, does not load gRPC.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.client.client import (
        ClientError,
        ColorizeOptions,
        ColorizerClient,
        ColorizeResult,
        RetryPolicy,
        SyncColorizerClient,
        build_request,
        channel_credentials,
        read_token_file,
    )

__all__ = [
    "ClientError",
    "ColorizeOptions",
    "ColorizeResult",
    "ColorizerClient",
    "RetryPolicy",
    "SyncColorizerClient",
    "build_request",
    "channel_credentials",
    "read_token_file",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("service.client.client"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
