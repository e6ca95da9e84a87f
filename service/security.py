"""Who may talk to the gateway: TLS credentials from files, and bearer-token authentication.

Policy (docs/SECURITY.md): with ``auth_tokens_file`` set, every RPC needs metadata
``authorization: Bearer <token>`` naming a token of the file, except ``grpc.health.v1.Health``
(kubelet probes carry no token). Reflection is behind the same check. A refused call gets
UNAUTHENTICATED with one fixed message, whatever was wrong; tokens are never logged.
"""

from __future__ import annotations

import hmac
import logging
import os
import ssl
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from service.settings import Settings

logger = logging.getLogger("service")

#: Metadata key carrying the token (gRPC lower-cases keys), and the scheme before it.
AUTH_METADATA = "authorization"
BEARER = "bearer "
#: Methods under this prefix are open without a token (probes).
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)
#: The only detail a refused caller gets: no hint whether the token was absent, malformed or wrong.
UNAUTHENTICATED_MESSAGE = "missing or invalid bearer token"


def file_stamp(path: Path) -> tuple[int, int, int]:
    """(inode, mtime, size): changes when a Secret volume swaps a file or someone rewrites it."""
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns, st.st_size


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials from the settings' PEM files, or None for a plaintext port.

    With ``tls_client_ca_file`` clients must present a certificate signed by that CA (mTLS).
    The files are re-read when they change (see :class:`CertificateFiles`).
    """
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    return CertificateFiles(
        settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file
    ).credentials()


class CertificateFiles:
    """The gateway's key pair (and client CA), re-read when a file changes (a rotated Secret).

    gRPC calls :meth:`fetch` before every new connection's handshake; it costs one ``stat`` per
    file when nothing changed. Connections already open keep the certificate they started with.
    A rotation is taken only once the new files load as a matching key pair (the standard
    library's TLS loader checks that), so a half-written rotation (new certificate, old key) keeps
    the previous pair and logs why instead of failing every handshake. Unusable files at start are
    an error.
    """

    def __init__(self, cert: Path, key: Path, client_ca: Path | None = None) -> None:
        self._cert, self._key, self._client_ca = cert, key, client_ca
        self._lock = threading.Lock()
        self._stamp = self._stamps()
        self._initial = self._load()

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials that ask :meth:`fetch` for the current files on each connection."""
        return grpc.dynamic_ssl_server_credentials(
            self._initial, self.fetch, require_client_authentication=self._client_ca is not None
        )

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """A new configuration when the files changed and load cleanly, else None (keep the current).

        Runs on a gRPC core thread: it must not raise.
        """
        try:
            stamp = self._stamps()
        except OSError as exc:
            logger.warning("TLS files unreadable (%s); keeping the current certificate", exc.strerror)
            return None
        if stamp == self._stamp:
            return None
        with self._lock:
            if stamp == self._stamp:
                return None
            self._stamp = stamp  # whatever the outcome: one log line per change, not per connection
            try:
                config = self._load()
            except (OSError, ValueError, ssl.SSLError) as exc:
                logger.warning("new TLS files rejected (%s); keeping the current certificate", exc)
                return None
        logger.info("TLS certificate reloaded from %s", self._cert)
        return config

    def _paths(self) -> tuple[Path, ...]:
        return (self._cert, self._key) + ((self._client_ca,) if self._client_ca is not None else ())

    def _stamps(self) -> tuple[tuple[int, int, int], ...]:
        return tuple(map(file_stamp, self._paths()))

    def _load(self) -> grpc.ServerCertificateConfiguration:
        cert, key = self._cert.read_bytes(), self._key.read_bytes()
        ca = self._client_ca.read_bytes() if self._client_ca is not None else None
        # Checks the certificate parses and the key is its key; the bytes are read again afterwards
        # so that what was checked is what gRPC gets.
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(
            self._cert, self._key, password=b""
        )  # never prompt
        if ca is not None:
            ssl.create_default_context(cadata=ca.decode("ascii", "replace"))
        if (cert, key) != (self._cert.read_bytes(), self._key.read_bytes()):
            raise ValueError("the files changed while being read")
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)


def parse_tokens(text: str) -> tuple[bytes, ...]:
    """Tokens of a tokens file: one per line, surrounding blanks stripped, '#' lines ignored."""
    lines = (line.strip() for line in text.splitlines())
    return tuple(line.encode() for line in lines if line and not line.startswith("#"))


class TokenFile:
    """The accepted tokens, re-read whenever the file changes (a rotated Kubernetes Secret).

    A file that becomes unreadable or empty keeps the last good tokens (and logs why), so a
    botched rotation does not lock everyone out; a file empty at start is an error.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._tokens: tuple[bytes, ...] = ()
        self._refresh()
        if not self._tokens:
            raise ValueError(f"auth_tokens_file {path} holds no token")

    def tokens(self) -> tuple[bytes, ...]:
        """The current tokens (one ``stat`` per call to notice a rotation)."""
        self._refresh()
        return self._tokens

    def _refresh(self) -> None:
        try:
            stamp = file_stamp(self._path)
        except OSError as exc:
            if self._tokens:
                logger.warning("auth tokens file unreadable (%s); keeping the previous tokens", exc.strerror)
                return
            raise
        if stamp == self._stamp:
            return
        with self._lock:
            tokens = parse_tokens(self._path.read_text())
            if tokens:
                if self._stamp is not None:
                    logger.info("auth tokens reloaded (%d tokens)", len(tokens))
                self._tokens = tokens
            else:
                logger.warning("auth tokens file %s is empty; keeping the previous tokens", self._path)
            self._stamp = stamp


def token_matches(presented: bytes, accepted: tuple[bytes, ...]) -> bool:
    """Whether ``presented`` is one of ``accepted``, in time independent of where they differ.

    Every token is compared (no early exit), each with :func:`hmac.compare_digest`.
    """
    found = False
    for token in accepted:
        found |= hmac.compare_digest(presented, token)
    return found


def _bearer(metadata: Any) -> bytes | None:
    for key, value in metadata or ():
        if key == AUTH_METADATA:
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            if text[: len(BEARER)].lower() == BEARER:
                return text[len(BEARER) :].strip().encode()
            return None
    return None


def _refusing(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of ``handler``'s kind that answers UNAUTHENTICATED without running it."""

    async def refuse(_request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)

    async def refuse_stream(_request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)
        yield  # pragma: no cover - makes this an async generator, as streaming handlers are

    ser, deser = handler.response_serializer, handler.request_deserializer
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(refuse, deser, ser)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(refuse, deser, ser)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(refuse_stream, deser, ser)
    return grpc.stream_stream_rpc_method_handler(refuse_stream, deser, ser)


class TokenAuthInterceptor(grpc.aio.ServerInterceptor):
    """Lets a call through only with a valid bearer token (health checks excepted)."""

    def __init__(self, tokens: TokenFile) -> None:
        self._tokens = tokens

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """Run the call's own handler, or one that refuses it."""
        handler = await continuation(handler_call_details)
        method = handler_call_details.method or ""
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        presented = _bearer(handler_call_details.invocation_metadata)
        if presented is not None and token_matches(presented, self._tokens.tokens()):
            return handler
        return _refusing(handler)
