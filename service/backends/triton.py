"""The ``triton`` backend: a Triton Inference Server reached with tritonclient's grpc.aio client."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from colorizer import contract
from service.backends.base import F32, Backend, logger
from service.channels import ROUND_ROBIN
from service.errors import BackendError, BackendUnavailableError, ColorizerError, DeadlineExceededError
from service.settings import Settings

#: Longest a readiness probe waits for Triton.
READY_TIMEOUT_S = 2.0


class TritonBackend(Backend):
    """Sends batches to Triton; readiness is 'server live and model ready'."""

    name = "triton"
    # Triton queues and batches on its side; a few batches in flight keep its instances busy.
    max_concurrent_batches = 2

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Any = None
        self._opened_at = 0.0
        self._closing: set[asyncio.Task[None]] = set()
        #: Channels opened after the first one (by ``triton_channel_max_age_s``).
        self.channels_opened = 0
        self._version = settings.model_version

    @property
    def model_name(self) -> str:
        """The model's name on Triton."""
        return self._settings.model_name

    @property
    def model_version(self) -> str:
        """The version Triton reports as ready (the configured one, if set)."""
        return self._version

    async def start(self) -> None:
        """Open the channel; Triton being down now only means 'not ready yet'."""
        self._client = self._open()
        self._opened_at = time.monotonic()
        if await self.check_ready():
            logger.info("triton backend: %s model %s ready", self._settings.triton_url, self.model_name)
        else:
            logger.warning("triton backend: %s not ready yet; will keep checking", self._settings.triton_url)

    def _open(self) -> Any:
        """A new tritonclient channel to ``triton_url``, balancing round robin over its addresses."""
        import tritonclient.grpc.aio as triton

        s = self._settings
        keepalive_ms = int(s.keepalive_time_s * 1000)
        # tritonclient reads the PEM files itself; it takes their paths.
        return triton.InferenceServerClient(
            s.triton_url,
            ssl=s.triton_tls,
            root_certificates=str(s.triton_tls_ca_file) if s.triton_tls_ca_file else None,
            private_key=str(s.triton_tls_key_file) if s.triton_tls_key_file else None,
            certificate_chain=str(s.triton_tls_cert_file) if s.triton_tls_cert_file else None,
            channel_args=[
                ("grpc.max_send_message_length", 2**31 - 1),
                ("grpc.max_receive_message_length", 2**31 - 1),
                ("grpc.keepalive_time_ms", keepalive_ms),
                # Reconnect soon after Triton comes back instead of backing off for minutes.
                ("grpc.initial_reconnect_backoff_ms", 250),
                ("grpc.min_reconnect_backoff_ms", 250),
                ("grpc.max_reconnect_backoff_ms", 2000),
                # Every call to the next ready Triton, not all of them to the first address.
                ("grpc.service_config", ROUND_ROBIN),
            ],
        )

    def _renew_if_aged(self) -> None:
        """Replace the client by a fresh one once it is ``triton_channel_max_age_s`` old.

        A channel resolves its target once and keeps its connections, and Triton never sends
        GOAWAY for age, so only a new channel sees the Triton pods a scale-up added. Done by the
        readiness check (every ``readiness_poll_s``), whose calls connect the new channel before
        an inference needs it.
        """
        max_age = self._settings.triton_channel_max_age_s
        if self._client is not None and max_age > 0 and time.monotonic() - self._opened_at >= max_age:
            old, self._client = self._client, self._open()
            self._opened_at = time.monotonic()
            self.channels_opened += 1
            # Closing now would cancel its calls in flight; none outlives triton_timeout_s.
            task = asyncio.create_task(self._close_later(old, self._settings.triton_timeout_s))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close_later(client: Any, delay_s: float) -> None:
        try:
            await asyncio.sleep(delay_s)
        finally:
            await client.close()

    async def close(self) -> None:
        """Close the channel (and any aged one still waiting for its calls)."""
        for task in list(self._closing):
            task.cancel()  # its finally closes the old channel now
        await asyncio.gather(*self._closing, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def check_ready(self) -> bool:
        """True when Triton answers live and the model is ready (each call bounded in time)."""
        from tritonclient.utils import InferenceServerException

        if self._client is None:
            return False
        self._renew_if_aged()
        try:
            ready = bool(
                await self._client.is_server_live(client_timeout=READY_TIMEOUT_S)
                and await self._client.is_model_ready(
                    self.model_name, self._settings.model_version, client_timeout=READY_TIMEOUT_S
                )
            )
            if ready and not self._version:
                meta = await self._client.get_model_metadata(
                    self.model_name, self._settings.model_version, client_timeout=READY_TIMEOUT_S
                )
                self._version = max(meta.versions, key=lambda v: int(v) if v.isdigit() else -1, default="")
            return ready
        except InferenceServerException:
            return False

    async def infer(self, sketch: F32, hint: F32, *, timeout_s: float | None = None) -> F32:
        """One Triton inference, bounded by the caller's remaining deadline.

        The deadline travels twice: as the gRPC deadline of the call (``client_timeout``: the
        gateway stops waiting) and as Triton's per-request ``timeout`` in microseconds (Triton
        may drop the request from its queue once it expired, where the model's queue policy
        allows overrides).
        """
        import tritonclient.grpc.aio as triton
        from tritonclient.utils import InferenceServerException

        if self._client is None:
            raise BackendUnavailableError("triton backend not started")
        inputs = []
        for spec, array in ((contract.SKETCH, sketch), (contract.HINT, hint)):
            tensor = triton.InferInput(spec.name, list(array.shape), "FP32")
            tensor.set_data_from_numpy(np.ascontiguousarray(array, dtype=np.float32))
            inputs.append(tensor)
        timeout = (
            self._settings.triton_timeout_s
            if timeout_s is None
            else min(timeout_s, self._settings.triton_timeout_s)
        )
        try:
            result = await self._client.infer(
                self.model_name,
                inputs,
                model_version=self._settings.model_version,
                outputs=[triton.InferRequestedOutput(contract.COLOR.name)],
                timeout=max(int(timeout * 1e6), 1),
                client_timeout=max(timeout, 0.001),
            )
        except InferenceServerException as exc:
            raise _translate(exc) from None
        color = result.as_numpy(contract.COLOR.name)
        if color is None or color.shape[0] != sketch.shape[0]:
            raise BackendError("triton returned no or a mis-sized 'color' output")
        return np.asarray(color, dtype=np.float32)


def _translate(exc: Any) -> ColorizerError:
    """One place that turns tritonclient's exception into the gateway's error types."""
    status = str(exc.status() or "")
    if status.endswith("UNAVAILABLE"):
        return BackendUnavailableError(f"model server unavailable: {exc.message()}")
    if status.endswith("DEADLINE_EXCEEDED"):
        return DeadlineExceededError("deadline exceeded waiting for triton")
    logger.error("triton inference failed: %s %s", status, exc.message())
    return BackendError(f"triton inference failed: {exc.message()}")
