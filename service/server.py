"""The gateway process: gRPC server, health, reflection, metrics endpoint, graceful shutdown.

Health policy: service ``""`` (liveness) is SERVING from start until the drain begins, whatever
the backend does, so a Triton outage never restarts gateway pods; ``colorizer.v1.Colorizer``
(readiness) is SERVING only while the backend is ready, so traffic moves to pods that can serve.

``serve(settings)`` runs it until SIGTERM/SIGINT; ``running_server(settings)`` runs it inside
another program (the CLI's local mode, tests) and yields the address to dial.

Drain on SIGTERM (all counted from the signal): health NOT_SERVING on every port and new
Colorize/ColorizeStream calls refused with UNAVAILABLE for ``drain_pre_stop_s`` (the ports still
answer, so probes see it); then the server stops listening and in-flight calls get what is left of
``grace_s``; then they are cancelled, their image work is told to stop and gets
``thread_stop_wait_s``; whatever native call still runs then is abandoned and the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service.admission import Admission
from service.backends import Backend, create_backend
from service.grpc_gen.colorizer.v1 import colorizer_pb2, colorizer_pb2_grpc
from service.interceptors import (
    AdmissionInterceptor,
    MessageDecodingInterceptor,
    MetricsInterceptor,
    RequestIdInterceptor,
)
from service.metrics import Metrics, MetricsServer, create_metrics
from service.pipeline import Pipeline
from service.security import TokenAuthInterceptor, TokenFile, server_credentials
from service.servicer import ColorizerServicer
from service.settings import Settings

logger = logging.getLogger("service")

#: The Colorizer service's full name, as health checks and reflection list it.
SERVICE_NAME = colorizer_pb2.DESCRIPTOR.services_by_name["Colorizer"].full_name


class Gateway:
    """One running gateway: backend, pipeline, gRPC server and metrics endpoint."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics: Metrics = create_metrics(settings.max_batch_size)
        self.backend: Backend = create_backend(settings)
        self.pipeline = Pipeline(settings, self.backend, self.metrics)
        self.admission = Admission(
            settings.in_flight_limit(), settings.max_open_streams, settings.max_streams_per_connection
        )
        self._server: grpc.aio.Server | None = None
        self._health_server: grpc.aio.Server | None = None
        self._health_port: int | None = None
        self._health: health.aio.HealthServicer | None = None
        self._metrics_server = MetricsServer(self.metrics, settings.host, settings.metrics_port)
        self._watcher: asyncio.Task[None] | None = None
        self._port = settings.port
        self._ready: bool | None = None

    @property
    def port(self) -> int:
        """The bound gRPC port."""
        return self._port

    @property
    def address(self) -> str:
        """``host:port`` a local client dials."""
        host = self.settings.host
        return f"{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{self._port}"

    @property
    def health_port(self) -> int | None:
        """The bound plaintext health-only port, if one was asked for."""
        return self._health_port

    @property
    def metrics_port(self) -> int:
        """The bound metrics HTTP port."""
        return self._metrics_server.port

    async def start(self) -> None:
        """Load the backend, bind the ports and start serving (all undone if a step fails)."""
        try:
            await self._start()
        except BaseException:
            await self.stop(0)
            raise

    async def _start(self) -> None:
        s = self.settings
        await self.backend.start()
        await self.pipeline.start()
        self._health = health.aio.HealthServicer()
        interceptors: list[grpc.aio.ServerInterceptor] = [
            RequestIdInterceptor(),
            MetricsInterceptor(self.metrics),  # outside the auth check: refusals are counted too
        ]
        if s.auth_tokens_file is not None:
            interceptors.append(TokenAuthInterceptor(TokenFile(s.auth_tokens_file)))
        stream = f"/{SERVICE_NAME}/ColorizeStream"
        # Inside the metrics: a request that does not parse is answered and counted like any other.
        interceptors.append(MessageDecodingInterceptor(per_item=frozenset({stream})))
        # After the auth check: a caller without a token cannot take admission slots.
        interceptors.append(
            AdmissionInterceptor(
                self.admission, frozenset({f"/{SERVICE_NAME}/Colorize"}), frozenset({stream})
            )
        )
        credentials = server_credentials(s)
        server = grpc.aio.server(
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", s.max_message_bytes),
                ("grpc.max_send_message_length", s.max_message_bytes),
                ("grpc.keepalive_time_ms", int(s.keepalive_time_s * 1000)),
                ("grpc.keepalive_timeout_ms", 20_000),
                # Accept client keepalive pings as often as we send ours.
                ("grpc.http2.min_recv_ping_interval_without_data_ms", int(s.keepalive_time_s * 1000)),
                # A second server on a busy port must fail, not share it silently.
                ("grpc.so_reuseport", 0),
                *_connection_age_options(s),
            ],
        )
        colorizer_pb2_grpc.add_ColorizerServicer_to_server(
            ColorizerServicer(
                self.pipeline,
                self.admission,
                stream_concurrency=s.stream_concurrency,
                stream_idle_timeout_s=s.stream_idle_timeout_s,
            ),
            server,
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        if s.reflection:
            reflection.enable_server_reflection(
                (
                    SERVICE_NAME,
                    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                    reflection.SERVICE_NAME,
                ),
                server,
            )
        address = f"{s.host}:{s.port}"
        if credentials is None:
            self._port = server.add_insecure_port(address)
        else:
            self._port = server.add_secure_port(address, credentials)
        if not self._port:
            raise OSError(f"cannot bind gRPC port {s.host}:{s.port}")
        self._server = server
        if s.health_port is not None:
            # Probes only: the same health states, no API, no TLS (kubelet's gRPC probe has none).
            self._health_server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
            health_pb2_grpc.add_HealthServicer_to_server(self._health, self._health_server)
            self._health_port = self._health_server.add_insecure_port(f"{s.host}:{s.health_port}")
            if not self._health_port:
                raise OSError(f"cannot bind health port {s.host}:{s.health_port}")
            await self._health_server.start()
        # Liveness: the process serves; it stays SERVING while the backend comes and goes.
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        await self._update_health()
        await server.start()
        self._metrics_server.start()
        self._watcher = asyncio.create_task(self._watch_backend(), name="backend-readiness")
        logger.info(
            "gateway serving on %s:%d (%s, %s, backend %s, metrics on :%d)",
            s.host,
            self._port,
            "plaintext" if credentials is None else ("mTLS" if s.tls_client_ca_file else "TLS"),
            "token auth" if s.auth_tokens_file else "no auth",
            self.backend.name,
            self.metrics_port,
        )

    async def stop(self, grace: float | None = None, pre_stop: float = 0.0) -> None:
        """Stop in order: health NOT_SERVING and new work refused for ``pre_stop`` s (ports still
        answering), then stop listening and let in-flight calls finish until ``grace`` s after
        the call, then cancel them and release everything."""
        started = time.monotonic()
        grace = self.settings.grace_s if grace is None else grace
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._health is not None:
            await self._health.enter_graceful_shutdown()  # every service, on every port
        self.admission.drain()
        if self._server is not None:
            if pre_stop > 0:
                await asyncio.sleep(min(pre_stop, grace))
            # Refuses new calls, lets running ones finish, cancels them at the end of the grace.
            await self._server.stop(max(0.0, grace - (time.monotonic() - started)))
            self._server = None
        if self._health_server is not None:
            await self._health_server.stop(0)
            self._health_server = None
        await self.pipeline.stop()
        await self.backend.close()
        self._metrics_server.stop()
        logger.info("gateway stopped")

    async def wait_for_termination(self) -> None:
        """Return when the gRPC server has stopped."""
        if self._server is not None:
            await self._server.wait_for_termination()

    async def _update_health(self) -> None:
        try:
            ready = await self.backend.check_ready()
        except Exception:
            logger.exception("backend readiness check failed")
            ready = False
        self.metrics.backend_ready.set(1 if ready else 0)
        if ready != self._ready and self._health is not None:
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if ready
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            await self._health.set(SERVICE_NAME, status)
            if self._ready is not None:
                log = logger.info if ready else logger.warning
                log("backend %s is %s", self.backend.name, "ready" if ready else "NOT ready")
            self._ready = ready

    async def _watch_backend(self) -> None:
        while True:
            await asyncio.sleep(self.settings.readiness_poll_s)
            await self._update_health()


def _connection_age_options(s: Settings) -> list[tuple[str, int]]:
    """gRPC's server-side connection management (gRFC A9) from the settings.

    Clients balance calls over the connections they hold, and a client holds them as long as they
    live: without an age, gateways added by a scale-up get no traffic from clients connected before.
    """
    if s.max_connection_age_s <= 0:
        return []
    options = [("grpc.max_connection_age_ms", int(s.max_connection_age_s * 1000))]
    if s.max_connection_age_grace_s > 0:
        # Unset, gRPC's grace is infinite: calls in flight on an aged connection run to their end.
        options.append(("grpc.max_connection_age_grace_ms", int(s.max_connection_age_grace_s * 1000)))
    return options


@contextlib.asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[str]:
    """Run a gateway for the duration of the block; yields the ``host:port`` to dial."""
    gateway = Gateway(settings)
    await gateway.start()
    try:
        yield gateway.address
    finally:
        await gateway.stop(settings.grace_s)


async def serve(settings: Settings) -> int:
    """Run the gateway until SIGTERM or SIGINT, then shut it down gracefully.

    Returns how many image tasks were still running (abandoned) when it stopped: the caller
    should then end the process without waiting for their threads.
    """
    gateway = Gateway(settings)
    await gateway.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        logger.info(
            "signal received: NOT_SERVING for %.1f s, draining for up to %.1f s",
            min(settings.drain_pre_stop_s, settings.grace_s),
            settings.grace_s,
        )
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await gateway.stop(settings.grace_s, pre_stop=settings.drain_pre_stop_s)
    return gateway.pipeline.abandoned
