"""Run a local Triton (nvidia-pytriton's tritonserver) on a CPU twin of the model repository."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``colorizer triton``."""
    parser.add_argument("--repository", type=Path, default=Path("model_repository"),
                        help="production model repository to twin (default: model_repository)")
    for name, port in (("grpc", 8001), ("http", 8000), ("metrics", 8002)):
        parser.add_argument(f"--{name}-port", type=int, default=port,
                            help=f"{name} port (default {port}; 0 = any free port)")
    parser.add_argument("--triton-venv", type=Path, default=None,
                        help="Triton virtual environment (default: <repo>/.venv-triton)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="working folder (default: a temporary one)")
    parser.add_argument("--log", type=Path, default=None, help="tritonserver log file")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for the model to be ready")


def run(args: argparse.Namespace) -> int:
    """Start the server, wait for Ctrl-C or SIGTERM (or the server dying), stop it cleanly."""
    from export.triton_local import LocalTriton, TritonError

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        triton = LocalTriton(args.repository, workdir=args.workdir, grpc_port=args.grpc_port or None,
                             http_port=args.http_port or None, metrics_port=args.metrics_port or None,
                             triton_venv=args.triton_venv, log_path=args.log)
        triton.start(timeout_s=args.timeout)
    except (TritonError, FileNotFoundError, ValueError) as exc:
        print(f"colorizer triton: {exc}")
        return 1
    print(f"Triton ready: grpc {triton.grpc_url}, http {triton.http_url}, metrics {triton.metrics_url}")
    print(f"log: {triton.log_path}  (Ctrl-C to stop)")
    try:
        while not stop.wait(1.0):
            if not triton.running:
                print(f"colorizer triton: tritonserver exited; see {triton.log_path}")
                return 1
    finally:
        triton.stop()
    print("Triton stopped")
    return 0
