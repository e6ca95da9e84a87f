"""The gateway's configuration: one pydantic-settings object, read from ``COLORIZER_*`` env vars.

``colorizer serve`` builds it once (flags override the environment) and passes it down; nothing
else in the service reads the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from colorizer import contract
from colorizer.imaging import InputLimits

_DEFAULT_LIMITS = InputLimits()


#: The smallest canvas a request may ask for (ColorizeRequest.canvas).
MIN_REQUEST_CANVAS = 4 * contract.STRIDE


class Settings(BaseSettings):
    """Everything the gateway can be told; each field is the env var ``COLORIZER_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="COLORIZER_", protected_namespaces=(), extra="ignore")

    host: str = Field("0.0.0.0", description="Address the gRPC server (and the metrics server) bind to.")
    port: int = Field(
        50051,
        ge=0,
        le=65535,
        description="gRPC port (Colorizer API, grpc.health.v1, reflection); 0 picks a free port.",
    )
    metrics_port: int = Field(
        9090, ge=0, le=65535, description="Prometheus /metrics HTTP port; 0 picks a free port."
    )
    backend: Literal["embedded", "triton"] = Field(
        "embedded",
        description="Where the model runs: 'embedded' (ONNX Runtime in-process) or 'triton' "
        "(a Triton server).",
    )
    model_repository: Path = Field(
        Path("model_repository"),
        description="Triton-layout model repository; the embedded backend loads "
        "<name>/<version>/model.onnx from it.",
    )
    model_name: str = Field(contract.MODEL_NAME, description="Model name in the repository / on Triton.")
    model_version: str = Field("", description="Model version to serve; empty = the highest numeric version.")
    triton_url: str = Field(
        "localhost:8001",
        description="Triton's gRPC target, backend=triton: host:port, or dns:///name:port (a "
        "headless Service) or ipv4:h1:p1,h2:p2 for several Triton servers; calls go round robin "
        "over every address it resolves to.",
    )
    triton_timeout_s: float = Field(
        30.0, gt=0, description="Longest a Triton inference may take when the client set no deadline."
    )
    triton_channel_max_age_s: float = Field(
        300.0,
        ge=0,
        description="backend=triton: the gateway opens a new channel to Triton this often, which "
        "resolves triton_url again (a dns:/// name of a headless Service: every ready Triton pod) "
        "and spreads calls round robin over what it finds, so Triton replicas added by a scale-up "
        "get work (Triton itself never ages connections). The old channel closes once its calls "
        "had triton_timeout_s; 0 = one channel for the process.",
    )
    readiness_poll_s: float = Field(
        1.0, gt=0, description="How often backend readiness is re-checked for the health service."
    )
    gateway_batching: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Micro-batch in the gateway: 'auto' = on for embedded, off for triton "
        "(measured: Triton's dynamic batcher alone gives more throughput), or 'on'/'off'.",
    )
    input_size: int = Field(
        contract.DEFAULT_SIZE,
        gt=0,
        description=f"Smallest square model canvas side in pixels (a multiple of {contract.STRIDE}): "
        "sketches up to this size run on it.",
    )
    max_canvas: int = Field(
        contract.DEFAULT_SIZE,
        gt=0,
        description="Largest model canvas side in pixels: a sketch's canvas is its long side rounded up "
        "to canvas_step, between input_size and this; a request may ask for any multiple of "
        f"{contract.STRIDE} from {MIN_REQUEST_CANVAS} to this. The default is the measured best for "
        "the shipped model (trained on small crops, it colors real line art better on a 256 canvas "
        "than on 512, even for 512 px sketches: docs/QUALITY.md); raise it for a model trained at "
        "larger scales. Never below input_size. Inference cost grows with its square.",
    )
    hint_spread_cells: int = Field(
        64,
        ge=0,
        le=64,
        description="Before the model, each hint's color is grown this many hint cells (4 canvas "
        "px each) over its own closed line-bounded region of the canvas sketch, never across a "
        "line and never into a region reaching the border (colorizer.imaging.spread): one click "
        "then colors its region; 64 covers any region of the default 256 canvas. 0 = the hints "
        "as given. Measured on 60 real drawings with keep_paper (docs/QUALITY.md): figure error "
        "at one hint per region 16.8 (as given) -> 10.5 (16 cells) -> 7.7 (64), hint fidelity at "
        "16 hints 4.4 -> 2.3.",
    )
    keep_paper: bool = Field(
        True,
        description="After the model, a line-bounded region of the canvas sketch that reaches its "
        "border and holds none of the user's hints is the page around the figure and is made "
        "white (colorizer.imaging.paper): the model, and hints spread over their regions, tint "
        "it. Measured on 60 real drawings, hints spread 64 cells: paper 0.8-1.9 -> 0.3-0.4 "
        "CIEDE2000 from white, figure error and leak unchanged within 0.2 (docs/QUALITY.md). "
        "false: the model's colors everywhere.",
    )
    canvas_step: int = Field(
        128,
        gt=0,
        description="Canvas sides the server chooses are multiples of this "
        f"(a multiple of {contract.STRIDE}): fewer shapes, fuller batches.",
    )
    max_batch_size: int = Field(8, ge=1, description="Largest batch the gateway sends to the model.")
    max_wait_ms: float = Field(
        0.0,
        ge=0,
        description="Longest a batch waits for more requests once the model is free. 0: it takes "
        "what is queued (batches still grow with load: requests queue while a batch runs); on CPU a "
        "wait only idles the model (batch 1 is as fast per image), on a GPU a few ms fill batches.",
    )
    max_queue: int = Field(
        64, ge=1, description="Requests waiting for the model beyond which new ones get RESOURCE_EXHAUSTED."
    )
    max_in_flight: int = Field(
        0,
        ge=0,
        description="Work in progress (Colorize calls plus ColorizeStream items being worked on) "
        "beyond which new calls/items get RESOURCE_EXHAUSTED immediately, before their images are "
        "read (bounds shed latency and memory under overload; an open stream takes no slot of its "
        "own); 0 = max_queue + 2 x max_batch_size.",
    )
    stream_concurrency: int = Field(
        16,
        ge=1,
        description="Items of one ColorizeStream call in work or answered and not yet sent, at "
        "most: a client that does not read its answers stops being read (backpressure).",
    )
    stream_idle_timeout_s: float = Field(
        30.0,
        ge=0,
        description="A ColorizeStream with nothing in work that sends no request for this long "
        "ends with DEADLINE_EXCEEDED; 0 = never.",
    )
    max_open_streams: int = Field(
        256,
        ge=1,
        description="ColorizeStream calls open at once, in total, beyond which new ones get "
        "RESOURCE_EXHAUSTED (open streams hold no work slot; their items take max_in_flight slots).",
    )
    max_streams_per_connection: int = Field(
        8, ge=1, description="ColorizeStream calls open at once on one client connection."
    )
    heavy_cost_mpx: float = Field(
        32.0,
        gt=0,
        description="Estimated cost (pixels x options, flat fill ~21 passes, plus hint painting; "
        "in millions of pixel passes) from which a request's postprocessing runs on the heavy pool.",
    )
    heavy_queue_mpx: float = Field(
        1024.0,
        gt=0,
        description="Estimated cost admitted to the heavy pool at once (running and waiting); "
        "beyond it heavy requests get RESOURCE_EXHAUSTED before decoding (one is always admitted).",
    )
    heavy_workers: int = Field(
        1, ge=1, description="Threads of the heavy pool (flat fill and other costly postprocessing)."
    )
    workers: int = Field(0, ge=0, description="Threads for image decoding/encoding; 0 = number of cores.")
    intra_op_threads: int = Field(0, ge=0, description="ONNX Runtime intra-op threads; 0 = number of cores.")
    opencv_threads: int = Field(
        1,
        ge=0,
        description="OpenCV's own threads per image operation; 0 = OpenCV's default (one per core). "
        "1: images run in parallel on the image threads instead, for throughput (on 2 cores, two "
        "OpenCV threads cost 14-19% more CPU per guided upscale for 16-24% less wall time: 0 "
        "suits a latency-bound service at low load).",
    )
    malloc_keep_freed: bool = Field(
        True,
        description="Tell glibc's malloc to keep freed memory for the next request instead of "
        "handing each large image buffer back to the kernel (which zeroes it again on the next "
        "touch): at a 2048 px page, 8-16 ms less system CPU in flat fill and 28-40 ms less in the "
        "guided upscale + encode (their page faults gone). The process then keeps its "
        "high-water mark between requests. No effect off glibc.",
    )
    grace_s: float = Field(
        10.0,
        ge=0,
        description="On SIGTERM/SIGINT, how long in-flight requests may take to finish, counted "
        "from the signal (drain_pre_stop_s included); then they are cancelled.",
    )
    drain_pre_stop_s: float = Field(
        1.0,
        ge=0,
        description="On SIGTERM/SIGINT, how long health reports NOT_SERVING on every port, while "
        "new Colorize/ColorizeStream calls get UNAVAILABLE, before the server stops listening "
        "(so probes and load balancers see it); capped at grace_s.",
    )
    thread_stop_wait_s: float = Field(
        2.0,
        ge=0,
        description="After grace_s, how long cancelled image work gets to stop before the process "
        "exits without it (exit within grace_s + this + ~1 s, always).",
    )
    png_encoder: Literal["fpng", "libpng"] = Field(
        "fpng",
        description="PNG writer of the results: fpng (2-4x less CPU at 512-2048 px, files 3-23% larger) "
        "or libpng (OpenCV's, smaller files). Both lossless.",
    )
    max_message_bytes: int = Field(
        32 * 2**20, ge=1024, description="Largest gRPC message received or sent, in bytes."
    )
    keepalive_time_s: float = Field(30.0, gt=0, description="Interval of gRPC keepalive pings to clients.")
    max_connection_age_s: float = Field(
        300.0,
        ge=0,
        description="A client connection older than this (+-10% jitter) is asked to go away "
        "(HTTP/2 GOAWAY) and the client reconnects, re-resolving its target: clients of a "
        "dns:/// target spread over replicas added since they connected. Calls in flight go on; "
        "0 = connections never age.",
    )
    max_connection_age_grace_s: float = Field(
        0.0,
        ge=0,
        description="How long calls in flight on an aged connection may still run before it is "
        "closed under them; 0 = until they end (a long ColorizeStream is never cut; the stream "
        "idle timeout still applies).",
    )
    max_sketch_bytes: int = Field(
        _DEFAULT_LIMITS.max_sketch_bytes, ge=1, description="Largest encoded sketch accepted, in bytes."
    )
    max_sketch_pixels: int = Field(
        _DEFAULT_LIMITS.max_sketch_pixels,
        ge=1,
        description="Largest sketch accepted, in pixels (width x height).",
    )
    flat_fill_gap_px: int = Field(
        15,
        ge=0,
        le=100,
        description="output.flat_fill: line ends up to this many pixels apart (at a 1000 px long side; "
        "scaled up with larger sketches; this many down to a 512 px side, half of it at 256 px and "
        "below) are joined before finding the regions to fill; 0: no gap closing.",
    )
    flat_fill_paper: bool = Field(
        True,
        description="output.flat_fill: an unhinted region touching the sketch's border stays white "
        "paper, and a hinted one (a figure drawn with open strokes) takes the hint's color except where "
        "the model left it white out to the border; false: both are filled like any other region.",
    )
    max_points: int = Field(_DEFAULT_LIMITS.max_points, ge=0, description="Most point hints per request.")
    max_strokes: int = Field(_DEFAULT_LIMITS.max_strokes, ge=0, description="Most stroke hints per request.")
    max_stroke_points: int = Field(
        _DEFAULT_LIMITS.max_stroke_points, ge=1, description="Most points in one stroke hint."
    )
    max_hint_image_bytes: int = Field(
        _DEFAULT_LIMITS.max_hint_image_bytes,
        ge=1,
        description="Largest encoded hint image accepted, in bytes.",
    )
    tls_cert_file: Path | None = Field(
        None,
        description="PEM server certificate chain; with tls_key_file the gRPC port speaks TLS "
        "(unset: plaintext, for a mesh or a trusted network).",
    )
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file.")
    tls_client_ca_file: Path | None = Field(
        None,
        description="PEM CA bundle; when set, clients must present a certificate it signed (mTLS). "
        "Needs tls_cert_file.",
    )
    auth_tokens_file: Path | None = Field(
        None,
        description="File of accepted bearer tokens, one per line ('#' comments and blank lines "
        "ignored; re-read when it changes, e.g. a mounted Kubernetes Secret). When set, every call "
        "except grpc.health.v1 needs 'authorization: Bearer <token>' metadata.",
    )
    health_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Extra plaintext port serving only grpc.health.v1, for kubelet gRPC probes "
        "(they cannot speak TLS) when the main port uses TLS; unset = none, 0 = any free port.",
    )
    reflection: bool = Field(
        True,
        description="Serve gRPC server reflection (behind the token check when auth_tokens_file is set).",
    )
    triton_tls: bool = Field(False, description="Dial Triton over TLS (backend=triton).")
    triton_tls_ca_file: Path | None = Field(
        None, description="PEM CA bundle that signed Triton's certificate (unset: system roots)."
    )
    triton_tls_cert_file: Path | None = Field(
        None, description="PEM client certificate for Triton, when Triton requires mTLS."
    )
    triton_tls_key_file: Path | None = Field(None, description="PEM private key of triton_tls_cert_file.")
    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING, ERROR.")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as plain text or one JSON object each."
    )

    @field_validator("input_size", "max_canvas", "canvas_step")
    @classmethod
    def _check_input_size(cls, value: int) -> int:
        contract.check_size(value, value)
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"unknown log level {value!r}")
        return value

    @model_validator(mode="after")
    def _check_canvas_range(self) -> Settings:
        # Never below input_size: a deployment that set only COLORIZER_INPUT_SIZE (the one canvas
        # before canvases varied) keeps that canvas.
        if self.max_canvas < self.input_size:
            self.max_canvas = self.input_size
        return self

    @model_validator(mode="after")
    def _check_tls_pairs(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file must be set together")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("tls_client_ca_file (mTLS) needs tls_cert_file and tls_key_file")
        if (self.triton_tls_cert_file is None) != (self.triton_tls_key_file is None):
            raise ValueError("triton_tls_cert_file and triton_tls_key_file must be set together")
        if not self.triton_tls and any(
            f is not None for f in (self.triton_tls_ca_file, self.triton_tls_cert_file)
        ):
            raise ValueError("triton_tls_* files are set but triton_tls is false")
        return self

    def limits(self) -> InputLimits:
        """The input limits, in the form the imaging library takes."""
        return InputLimits(
            max_sketch_bytes=self.max_sketch_bytes,
            max_sketch_pixels=self.max_sketch_pixels,
            max_points=self.max_points,
            max_strokes=self.max_strokes,
            max_stroke_points=self.max_stroke_points,
            max_hint_image_bytes=self.max_hint_image_bytes,
        )

    def canvas_side(self, height: int, width: int, requested: int = 0) -> int:
        """The canvas side for a ``height`` x ``width`` sketch: ``requested`` when given (checked by
        the caller), else the long side rounded up to ``canvas_step``, within the canvas range."""
        if requested:
            return requested
        step = self.canvas_step
        side = -(-max(height, width) // step) * step
        return min(max(side, self.input_size), self.max_canvas)

    def in_flight_limit(self) -> int:
        """Admission limit, with 0 resolved to what the queue and two batches in work hold."""
        return self.max_in_flight or self.max_queue + 2 * self.max_batch_size

    def worker_threads(self) -> int:
        """Image thread-pool size, with 0 resolved to the number of cores."""
        return self.workers or (os.cpu_count() or 1)

    def intra_op(self) -> int:
        """ONNX Runtime intra-op threads, with 0 resolved to the number of cores."""
        return self.intra_op_threads or (os.cpu_count() or 1)

    def batch_in_gateway(self) -> bool:
        """Whether the gateway micro-batches, with 'auto' resolved per backend."""
        if self.gateway_batching == "auto":
            return self.backend == "embedded"
        return self.gateway_batching == "on"
