"""Run the gRPC gateway (colorizer.v1 API, health, reflection, Prometheus metrics)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags that override the COLORIZER_* environment settings."""
    parser.add_argument("--host", help="bind address (COLORIZER_HOST)")
    parser.add_argument("--port", type=int, help="gRPC port, 0 = any free one (COLORIZER_PORT)")
    parser.add_argument("--metrics-port", type=int, help="Prometheus port (COLORIZER_METRICS_PORT)")
    parser.add_argument("--backend", choices=["embedded", "triton"], help="model backend (COLORIZER_BACKEND)")
    parser.add_argument("--triton-url", help="Triton gRPC host:port (COLORIZER_TRITON_URL)")
    parser.add_argument("--model-repository", help="model repository folder (COLORIZER_MODEL_REPOSITORY)")
    parser.add_argument("--model-version", help="model version, empty = latest (COLORIZER_MODEL_VERSION)")
    parser.add_argument("--max-batch-size", type=int, help="largest model batch (COLORIZER_MAX_BATCH_SIZE)")
    parser.add_argument(
        "--grace", type=float, dest="grace_s", help="drain seconds on SIGTERM (COLORIZER_GRACE_S)"
    )
    parser.add_argument(
        "--log-format", choices=["text", "json"], help="log line format (COLORIZER_LOG_FORMAT)"
    )


def run(args: argparse.Namespace) -> int:
    """Build the settings once (environment, then flags) and serve until SIGTERM/SIGINT."""
    import asyncio

    from pydantic import ValidationError

    from service.errors import ColorizerError
    from service.logging import configure_logging
    from service.server import serve
    from service.settings import Settings

    overrides = {
        name: value
        for name in (
            "host",
            "port",
            "metrics_port",
            "backend",
            "triton_url",
            "model_repository",
            "model_version",
            "max_batch_size",
            "grace_s",
            "log_format",
        )
        if (value := getattr(args, name, None)) is not None
    }
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(f"colorizer serve: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    configure_logging("DEBUG" if getattr(args, "verbose", False) else settings.log_level, settings.log_format)
    if settings.malloc_keep_freed:
        from service.allocator import keep_freed_memory

        keep_freed_memory()  # before any request: the process's own setting, so here and not in serve()
    try:
        abandoned = asyncio.run(serve(settings))
    except (ColorizerError, OSError) as exc:
        print(f"colorizer serve: {exc}", file=sys.stderr)
        return 1
    if abandoned:
        # Threads still inside a native call (OpenCV) cannot be interrupted, and the interpreter
        # would wait for them at exit: end the process now, as the grace period promised.
        import logging
        import os

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
