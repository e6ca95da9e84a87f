"""A small Python client for the colorizer.v1 gRPC API.

:class:`ColorizerClient` is an async context manager over ``grpc.aio``: every call has a timeout,
UNAVAILABLE, RESOURCE_EXHAUSTED and (server-side) CANCELLED are retried with exponential backoff, and every
``grpc.RpcError`` leaves it as one :class:`ClientError` (one wrapper, :meth:`ColorizerClient._call`).
:class:`SyncColorizerClient` offers the same calls to code without an event loop.

Security (docs/SECURITY.md): plaintext by default; TLS with the system roots (``tls=True``) or a
CA bundle (``root_certificates_file``), mTLS with ``client_cert_file`` + ``client_key_file``, and a
bearer ``token`` sent as ``authorization: Bearer <token>`` metadata on every call (never logged).

Several gateways: the address is any gRPC target, and the channel balances calls (not
connections) over every address it resolves, round robin (:data:`service.channels.ROUND_ROBIN`). ``dns:///NAME:PORT``
of a headless Kubernetes Service resolves to every ready gateway pod; ``ipv4:H1:P1,H2:P2`` lists
them. A call that fails UNAVAILABLE because its replica went away is retried, and the retry goes
to another replica (docs/DEPLOY.md, "More than one replica").
"""

from __future__ import annotations

import asyncio
import logging
import random
import string
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc

from colorizer.imaging.hints_json import HintSet
from service.channels import ROUND_ROBIN
from service.grpc_gen.colorizer.v1 import colorizer_pb2 as pb
from service.grpc_gen.colorizer.v1 import colorizer_pb2_grpc as pb_grpc

logger = logging.getLogger("service.client")

_T = TypeVar("_T")

#: Output formats by name, as the CLI and :class:`ColorizeOptions` spell them.
FORMATS: dict[str, pb.ImageFormat] = {
    "png": pb.IMAGE_FORMAT_PNG,
    "jpeg": pb.IMAGE_FORMAT_JPEG,
    "webp": pb.IMAGE_FORMAT_WEBP,
}
#: How the model's colors reach the original size (OutputOptions.upscale).
UPSCALES: dict[str, pb.Upscale] = {"guided": pb.UPSCALE_GUIDED, "resize": pb.UPSCALE_RESIZE}
_FORMAT_NAMES = {v: k for k, v in FORMATS.items()} | {pb.IMAGE_FORMAT_UNSPECIFIED: "png"}
#: File extension written for each output format.
EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
#: Layered-file formats by name ("" = none), as the CLI and :class:`ColorizeOptions` spell them.
LAYERS_FORMATS: dict[str, pb.LayersFormat] = {
    "": pb.LAYERS_FORMAT_UNSPECIFIED,
    "psd": pb.LAYERS_FORMAT_PSD,
    "zip": pb.LAYERS_FORMAT_ZIP,
}
_LAYERS_NAMES = {v: k for k, v in LAYERS_FORMATS.items()}
#: File extension written for each layered-file format.
LAYERS_EXTENSIONS = {"psd": ".psd", "zip": ".layers.zip"}


#: Metadata key and scheme of the bearer token (the gateway's service.security expects these).
AUTH_METADATA = "authorization"
BEARER = "Bearer"
#: What a token may contain: gRPC metadata values are printable ASCII, and a space would split it.
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + string.punctuation)


class ClientError(Exception):
    """A call to the gateway failed; ``code`` is the gRPC status, ``details`` the server's message.

    ``hint`` is the client's own explanation for statuses a user can fix (a refused token), added
    to the message so that the CLI's one-line error says what to do.
    """

    def __init__(self, code: grpc.StatusCode, details: str, method: str, hint: str = "") -> None:
        super().__init__(f"{code.name}: {details}" + (f" ({hint})" if hint else ""))
        self.code = code
        self.details = details
        self.method = method
        self.hint = hint


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter for the status codes worth retrying."""

    #: Tries in all, the first included (1 = no retry).
    attempts: int = 5
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    multiplier: float = 2.0
    #: CANCELLED reaches a caller only from the server's side (a cancellation of our own raises
    #: asyncio.CancelledError instead): a replica shutting down cancels the calls it had received
    #: but not started, and those still running at the end of its grace. The calls are
    #: idempotent, so another replica gets them.
    codes: frozenset[grpc.StatusCode] = frozenset(
        {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED}
    )

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 1)."""
        ceiling = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier ** (attempt - 1))
        # Full jitter spreads the retries of many clients hit by the same overload.
        return random.uniform(0.5 * ceiling, ceiling)


@dataclass(frozen=True)
class ColorizeOptions:
    """Per-request options a caller can set (the request's output and sketch mode)."""

    format: str = "png"
    #: JPEG/WebP quality 1..100; 0 = the server's default.
    quality: int = 0
    #: The sketch is a color illustration: extract its lines first.
    extract_lines: bool = False
    #: Multiply the original line art over the result.
    overlay_lines: bool = False
    #: Return the padded model canvas instead of the original size.
    model_size: bool = False
    #: Flat colors: one color per line-bounded region (the hints' where given), lines drawn over.
    flat_fill: bool = False
    #: Canvas colors -> original size: "guided" (color edges on the lines, lines drawn over) or
    #: "resize" (a plain resize).
    upscale: str = "guided"
    #: Model canvas side (a multiple of 16 in the server's range); 0 = the server's choice.
    canvas: int = 0
    #: Also get the result as layers: "psd", "zip" (PNGs), or "" for none.
    layers: str = ""
    #: Composite a transparent background on white paper (default: keep it transparent).
    paper: bool = False

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown format {self.format!r}; choose one of {sorted(FORMATS)}")
        if self.upscale not in UPSCALES:
            raise ValueError(f"unknown upscale {self.upscale!r}; choose one of {sorted(UPSCALES)}")
        if self.canvas < 0:
            raise ValueError(f"canvas must be >= 0 (0 = the server's choice), got {self.canvas}")
        if self.layers not in LAYERS_FORMATS:
            raise ValueError(f"unknown layers format {self.layers!r}; choose psd, zip or none")
        if self.layers and self.model_size:
            raise ValueError("layers are made at the original size; they cannot be combined with model_size")
        if self.flat_fill and self.model_size:
            raise ValueError(
                "flat_fill works on the original-size image; it cannot be combined with model_size"
            )


@dataclass(frozen=True)
class ColorizeResult:
    """A colored image as the gateway returned it."""

    request_id: str
    image: bytes
    format: str
    width: int
    height: int
    model_name: str
    model_version: str
    hint_cells: int
    #: Milliseconds per stage: decode, preprocess, queue, inference, postprocess, total.
    timings_ms: dict[str, float] = field(default_factory=dict)
    #: The layered file when one was asked for (``layers_format`` "psd" or "zip"; else b"" and "").
    layers: bytes = b""
    layers_format: str = ""

    @classmethod
    def from_proto(cls, r: pb.ColorizeResponse) -> ColorizeResult:
        """Convert a ``ColorizeResponse``."""
        t = r.timings
        return cls(
            request_id=r.request_id,
            image=r.image,
            format=_FORMAT_NAMES.get(r.format, "png"),
            width=r.width,
            height=r.height,
            model_name=r.model_name,
            model_version=r.model_version,
            hint_cells=r.hint_cells,
            timings_ms={
                "decode": t.decode_ms,
                "preprocess": t.preprocess_ms,
                "queue": t.queue_ms,
                "inference": t.inference_ms,
                "postprocess": t.postprocess_ms,
                "total": t.total_ms,
            },
            layers=r.layers,
            layers_format=_LAYERS_NAMES.get(r.layers_format, ""),
        )


def build_request(
    sketch: bytes,
    hints: HintSet | None = None,
    *,
    hint_image: bytes = b"",
    options: ColorizeOptions | None = None,
    request_id: str = "",
) -> pb.ColorizeRequest:
    """A ``ColorizeRequest`` for encoded ``sketch`` bytes with point/stroke hints and options."""
    hints = hints or HintSet()
    options = options or ColorizeOptions()
    return pb.ColorizeRequest(
        request_id=request_id,
        sketch=sketch,
        sketch_mode=pb.SKETCH_MODE_EXTRACT if options.extract_lines else pb.SKETCH_MODE_LINES,
        points=[pb.PointHint(x=p.x, y=p.y, color=_color(p.rgb), radius=p.radius) for p in hints.points],
        strokes=[
            pb.StrokeHint(
                points=[pb.Point(x=x, y=y) for x, y in s.points], width=s.width, color=_color(s.rgb)
            )
            for s in hints.strokes
        ],
        hint_image=hint_image,
        output=pb.OutputOptions(
            format=FORMATS[options.format],
            quality=options.quality,
            size=pb.OUTPUT_SIZE_MODEL if options.model_size else pb.OUTPUT_SIZE_ORIGINAL,
            overlay_lines=options.overlay_lines,
            flat_fill=options.flat_fill,
            upscale=UPSCALES[options.upscale],
            layers=LAYERS_FORMATS[options.layers],
            paper=options.paper,
        ),
        canvas=options.canvas,
    )


def _color(rgb: tuple[int, int, int]) -> pb.Color:
    return pb.Color(r=rgb[0], g=rgb[1], b=rgb[2])


def channel_credentials(
    root_certificates_file: str | Path | None = None,
    client_cert_file: str | Path | None = None,
    client_key_file: str | Path | None = None,
) -> grpc.ChannelCredentials:
    """TLS channel credentials from PEM files (``OSError`` if one cannot be read).

    Without ``root_certificates_file`` the server is checked against gRPC's default roots;
    ``client_cert_file`` and ``client_key_file`` (mTLS) go together.
    """
    if (client_cert_file is None) != (client_key_file is None):
        raise ValueError("client_cert_file and client_key_file must be given together")
    return grpc.ssl_channel_credentials(
        root_certificates=Path(root_certificates_file).read_bytes() if root_certificates_file else None,
        private_key=Path(client_key_file).read_bytes() if client_key_file else None,
        certificate_chain=Path(client_cert_file).read_bytes() if client_cert_file else None,
    )


def read_token_file(path: str | Path) -> str:
    """The first non-empty line of ``path``, stripped (``ValueError`` if there is none).

    A file, not a flag, carries the token so that it never shows in ``ps`` or shell history.
    """
    for line in Path(path).read_text().splitlines():
        if line.strip():
            return line.strip()
    raise ValueError(f"token file {path} holds no token")


def bearer_metadata(token: str | None) -> tuple[tuple[str, str], ...] | None:
    """The call metadata carrying ``token`` (None for none); ``ValueError`` for a malformed token.

    The error message never quotes the token.
    """
    if token is None:
        return None
    if not token or not set(token) <= _TOKEN_CHARS:
        raise ValueError("token must be non-empty printable ASCII without spaces")
    return ((AUTH_METADATA, f"{BEARER} {token}"),)


class ColorizerClient:
    """Async client for a gateway target (``host:port``, ``dns:///name:port``, ``ipv4:h:p,h:p``);
    use as ``async with``. Calls are spread round robin over every address the target resolves to.

    The channel is plaintext unless one of ``tls``, ``root_certificates_file``,
    ``client_cert_file``/``client_key_file`` or ``credentials`` (ready-made channel credentials,
    which then replace the files) asks for TLS. ``token`` goes with every call as
    ``authorization: Bearer <token>``.
    """

    def __init__(
        self,
        address: str,
        *,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        max_message_bytes: int = 64 * 2**20,
        tls: bool = False,
        root_certificates_file: str | Path | None = None,
        client_cert_file: str | Path | None = None,
        client_key_file: str | Path | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        token: str | None = None,
    ) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        # Validated before the channel exists, so a bad token leaves nothing to close.
        self._metadata = bearer_metadata(token)
        files = (root_certificates_file, client_cert_file, client_key_file)
        if credentials is None and (tls or any(f is not None for f in files)):
            credentials = channel_credentials(*files)
        self.tls = credentials is not None
        if token is not None and not self.tls:
            # Allowed (TLS may end at a proxy or mesh sidecar in front of the gateway), but worth saying.
            logger.warning("sending a bearer token to %s over a plaintext channel", address)
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.service_config", ROUND_ROBIN),
        ]
        if credentials is None:
            self._channel = grpc.aio.insecure_channel(address, options=options)
        else:
            self._channel = grpc.aio.secure_channel(address, credentials, options=options)
        self._stub = pb_grpc.ColorizerStub(self._channel)

    async def __aenter__(self) -> ColorizerClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel (in-flight calls are cancelled)."""
        await self._channel.close()

    async def wait_ready(self, timeout_s: float | None = None) -> None:
        """Wait until the channel is connected; :class:`ClientError` UNAVAILABLE after the timeout."""
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout_s or self.timeout_s)
        except asyncio.TimeoutError:
            # A failing TLS handshake also looks like silence here, so say TLS was in play.
            hint = "over TLS: check the address, --ca and --cert/--key" if self.tls else ""
            raise ClientError(
                grpc.StatusCode.UNAVAILABLE, f"no gateway answered at {self.address}", "connect", hint
            ) from None

    async def colorize(
        self, request: pb.ColorizeRequest, *, timeout_s: float | None = None
    ) -> ColorizeResult:
        """Color one sketch (``request`` from :func:`build_request`)."""
        response = await self._call(
            "Colorize",
            lambda t: self._stub.Colorize(request, timeout=t, metadata=self._metadata),
            timeout_s,
        )
        return ColorizeResult.from_proto(response)

    async def model_info(self, *, timeout_s: float | None = None) -> pb.ModelInfo:
        """The served model's name, version, input size and the gateway's limits."""
        return await self._call(
            "GetModelInfo",
            lambda t: self._stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=t, metadata=self._metadata),
            timeout_s,
        )

    async def colorize_stream(
        self, requests: Iterable[pb.ColorizeRequest], *, timeout_s: float | None = None
    ) -> AsyncIterator[pb.ColorizeStreamResponse]:
        """Send ``requests`` on one stream; yield each response as it completes (not retried).

        ``timeout_s`` bounds the whole stream. Per-item failures arrive as responses with
        ``error`` set; a failure of the stream itself raises :class:`ClientError`.
        """
        call = self._stub.ColorizeStream(
            iter(requests), timeout=timeout_s or self.timeout_s, metadata=self._metadata
        )
        try:
            async for response in call:
                yield response
        except grpc.RpcError as exc:
            raise _client_error(exc, "ColorizeStream", tls=self.tls) from None

    async def _call(
        self, method: str, invoke: Callable[[float], Awaitable[_T]], timeout_s: float | None
    ) -> _T:
        """Run ``invoke(timeout)`` with retries; the one place RpcError becomes ClientError."""
        timeout = timeout_s or self.timeout_s
        attempt = 1
        while True:
            try:
                return await invoke(timeout)
            except grpc.RpcError as exc:
                error = _client_error(exc, method, tls=self.tls)
            if error.code not in self.retry.codes or attempt >= self.retry.attempts:
                raise error
            delay = self.retry.backoff(attempt)
            logger.debug("%s failed with %s; retry %d in %.2f s", method, error.code.name, attempt, delay)
            await asyncio.sleep(delay)
            attempt += 1


def _client_error(exc: grpc.RpcError, method: str, *, tls: bool = False) -> ClientError:
    """``exc`` as a :class:`ClientError`, with a hint where the caller's credentials may be at fault."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    code = code or grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else str(exc)) or ""
    return ClientError(code, details, method, _hint(code, details, tls=tls))


def _hint(code: grpc.StatusCode, details: str, *, tls: bool) -> str:
    """What the user can check for ``code``; "" when gRPC's own details say enough.

    gRPC reports a TLS mismatch only as UNAVAILABLE, often just "Socket closed" (the server hung
    up during the handshake), so the hint names the likely cause without claiming it.
    """
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return "authentication failed: the gateway wants a valid bearer token (token=, CLI --token-file)"
    if code != grpc.StatusCode.UNAVAILABLE:
        return ""
    text = details.lower()
    if tls and any(word in text for word in ("ssl", "tls", "handshake", "certificate", "socket closed")):
        return (
            "TLS connection failed: check the CA bundle (--ca) and, if the gateway requires mTLS, "
            "the client certificate (--cert/--key)"
        )
    if not tls and "socket closed" in text:
        return "if the gateway uses TLS, connect with TLS (--tls or --ca; tls= or root_certificates_file=)"
    return ""


class SyncColorizerClient:
    """Blocking wrapper of :class:`ColorizerClient` for scripts without an event loop.

    ``kwargs`` are those of :class:`ColorizerClient` (timeouts, retry, TLS files, token).
    """

    def __init__(self, address: str, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        # The grpc.aio channel binds to the loop it is created on, so it is created on ours.
        self._client: ColorizerClient = self._run(self._make(address, kwargs))

    @staticmethod
    async def _make(address: str, kwargs: dict[str, Any]) -> ColorizerClient:
        return ColorizerClient(address, **kwargs)

    def _run(self, coro: Awaitable[_T]) -> _T:
        return self._loop.run_until_complete(coro)

    def __enter__(self) -> SyncColorizerClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel and the private event loop."""
        if not self._loop.is_closed():
            self._run(self._client.close())
            self._loop.close()

    def colorize(self, request: pb.ColorizeRequest, *, timeout_s: float | None = None) -> ColorizeResult:
        """See :meth:`ColorizerClient.colorize`."""
        return self._run(self._client.colorize(request, timeout_s=timeout_s))

    def model_info(self, *, timeout_s: float | None = None) -> pb.ModelInfo:
        """See :meth:`ColorizerClient.model_info`."""
        return self._run(self._client.model_info(timeout_s=timeout_s))
