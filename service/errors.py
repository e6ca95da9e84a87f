"""The gateway's one exception hierarchy; each error carries the status code it maps to.

Codes are ``google.rpc.Code`` numbers (the same values as ``grpc.StatusCode``), so the batcher and
the pipeline stay free of gRPC; the servicer translates them once, at the edge.
"""

from __future__ import annotations

import enum

from colorizer.imaging import ImageInputError


class Code(enum.IntEnum):
    """Status codes (google.rpc.Code values) the gateway answers with."""

    OK = 0
    CANCELLED = 1
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    RESOURCE_EXHAUSTED = 8
    INTERNAL = 13
    UNAVAILABLE = 14


class ColorizerError(Exception):
    """Base of every error the gateway reports to a client; ``str(e)`` is safe to show."""

    code: Code = Code.INTERNAL


class InvalidInputError(ColorizerError):
    """The request is malformed (bad image, hint, option); the message says which field."""

    code = Code.INVALID_ARGUMENT


class OverloadedError(ColorizerError):
    """The queue is full; the client should back off and retry."""

    code = Code.RESOURCE_EXHAUSTED


class DeadlineExceededError(ColorizerError):
    """The request's deadline passed before its result was ready."""

    code = Code.DEADLINE_EXCEEDED


class BackendUnavailableError(ColorizerError):
    """The model backend is not reachable or not ready (e.g. Triton is down); retry later."""

    code = Code.UNAVAILABLE


class ShuttingDownError(ColorizerError):
    """The gateway is stopping and takes no new work."""

    code = Code.UNAVAILABLE


class BackendError(ColorizerError):
    """The model backend failed on a well-formed request."""

    code = Code.INTERNAL


def as_colorizer_error(exc: BaseException) -> ColorizerError:
    """``exc`` as a :class:`ColorizerError` whose message is safe to send to a client.

    The imaging library's input errors become INVALID_ARGUMENT with their own message; anything
    unexpected becomes a bare INTERNAL error (the trace goes to the log, never to the client).
    """
    if isinstance(exc, ColorizerError):
        return exc
    if isinstance(exc, ImageInputError):
        return InvalidInputError(str(exc))
    return ColorizerError("internal error")
