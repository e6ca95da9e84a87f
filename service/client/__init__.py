"""Python client for the colorizer gateway, and the ``colorize`` / ``batch`` commands."""

from service.client.client import (
    ClientError,
    ColorizeOptions,
    ColorizerClient,
    ColorizeResult,
    RetryPolicy,
    SyncColorizerClient,
    build_request,
)

__all__ = [
    "ClientError",
    "ColorizeOptions",
    "ColorizeResult",
    "ColorizerClient",
    "RetryPolicy",
    "SyncColorizerClient",
    "build_request",
]
