"""TLS and bearer-token flags of the commands that call a gateway (``colorize``, ``batch``, ``fuzz``).

The flags only make sense with a remote address (``--server``, or ``--target`` for ``fuzz``): the
local mode talks plaintext to a gateway inside the same process. The token comes from a file,
never from a flag, so it cannot show in ``ps``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


class SecurityArgumentError(ValueError):
    """The security flags are inconsistent or name an unreadable file (the command exits 2)."""


def add_security_arguments(parser: argparse.ArgumentParser, remote_flag: str = "--server") -> None:
    """Add ``--tls``, ``--ca``, ``--cert``, ``--key`` and ``--token-file`` to ``parser``."""
    group = parser.add_argument_group(f"TLS and authentication (with {remote_flag})")
    group.add_argument(
        "--tls", action="store_true", help="connect with TLS, checking the server against the system roots"
    )
    group.add_argument(
        "--ca", type=Path, metavar="FILE", help="PEM CA bundle that signed the server (implies --tls)"
    )
    group.add_argument(
        "--cert", type=Path, metavar="FILE", help="PEM client certificate for mTLS (needs --key)"
    )
    group.add_argument("--key", type=Path, metavar="FILE", help="PEM private key of --cert")
    group.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="file whose first non-empty line is the bearer token (sent as 'authorization: Bearer')",
    )


def client_security(args: argparse.Namespace, remote_flag: str = "--server") -> dict[str, Any]:
    """Keyword arguments of :class:`~service.client.client.ColorizerClient` from the flags.

    Files are read here, before any call, so that a typo is a usage error (exit 2) and not a
    failed request. Raises :class:`SecurityArgumentError` with a message for the user.
    """
    # Imported here: ``colorizer --help`` imports this module and must not load gRPC.
    from service.client.client import bearer_metadata, channel_credentials, read_token_file

    given = [
        flag
        for flag, value in (
            ("--tls", args.tls),
            ("--ca", args.ca),
            ("--cert", args.cert),
            ("--key", args.key),
            ("--token-file", args.token_file),
        )
        if value
    ]
    if not given:
        return {}
    if not getattr(args, remote_flag.lstrip("-").replace("-", "_")):
        raise SecurityArgumentError(
            f"{', '.join(given)} can only be used with {remote_flag} (local mode is plaintext in-process)"
        )
    if (args.cert is None) != (args.key is None):
        raise SecurityArgumentError("--cert and --key must be given together")
    kwargs: dict[str, Any] = {}
    try:
        if args.tls or args.ca or args.cert:
            kwargs["credentials"] = channel_credentials(args.ca, args.cert, args.key)
        if args.token_file:
            kwargs["token"] = read_token_file(args.token_file)
            bearer_metadata(kwargs["token"])  # a malformed token is a usage error, found before any call
    except OSError as exc:
        raise SecurityArgumentError(f"cannot read {exc.filename}: {exc.strerror}") from None
    except ValueError as exc:
        raise SecurityArgumentError(str(exc)) from None
    return kwargs
