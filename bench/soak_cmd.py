"""Soak or overload a gateway: throughput, latency and RSS over time (JSON report + PNG plot)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from service.client.security_args import add_security_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``colorizer soak``."""
    parser.add_argument("--minutes", type=float, default=10.0, help="soak length, at most 240 (default 10)")
    parser.add_argument("--target", help="HOST:PORT of a running gateway; default: start one locally")
    parser.add_argument("--pid", type=int, help="pid of --target's process, to measure its RSS")
    parser.add_argument("--concurrency", type=int, default=4, help="closed-loop clients (default 4)")
    parser.add_argument("--size", type=int, default=256, help="sketch side in pixels (default 256)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds per sample (default 10)")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before RSS growth counts")
    parser.add_argument(
        "--overload",
        type=int,
        metavar="CLIENTS",
        help="instead of a soak: baseline at --concurrency, then CLIENTS closed-loop clients for "
        "--overload-seconds, then recovery at --concurrency",
    )
    parser.add_argument("--overload-seconds", type=float, default=30.0, help="length of the overload")
    parser.add_argument("--phase-seconds", type=float, default=20.0, help="baseline and recovery length")
    parser.add_argument("--max-queue", type=int, help="COLORIZER_MAX_QUEUE of the local gateway")
    parser.add_argument("--model-repository", default="model_repository", help="for the local gateway")
    parser.add_argument("--out", type=Path, default=Path("runs/soak"), help="report folder")
    parser.add_argument(
        "--sigterm",
        action="store_true",
        help="instead of a soak: SIGTERM a local gateway during the heaviest request the limits "
        "allow; health per port polled every 50 ms, exit time (bench/hostile.py)",
    )
    parser.add_argument(
        "--server-checkout", type=Path, help="with --sigterm: run the gateway from this checkout"
    )
    parser.add_argument("--quick", action="store_true", help="with --sigterm: 16 strokes instead of 256")
    add_security_arguments(parser, remote_flag="--target")


def run(args: argparse.Namespace) -> int:
    """Run the soak (or the overload) and write ``report.json`` (and ``rss.png`` for a soak)."""
    import asyncio
    import contextlib

    from bench.fuzz import sample_requests
    from bench.loadgen import CallSecurity
    from bench.soak import LocalGateway, plot_soak, process_rss, run_overload, run_soak
    from service.client.client import bearer_metadata
    from service.client.security_args import SecurityArgumentError, client_security

    if args.sigterm:
        from bench.fuzz_cmd import run_hostile

        args.json = args.out / "sigterm.json"
        args.out.mkdir(parents=True, exist_ok=True)
        return run_hostile(args, ("sigterm",))
    if not 0 < args.minutes <= 240 or args.concurrency < 1:
        print("colorizer soak: --minutes must be in (0, 240] and --concurrency >= 1", file=sys.stderr)
        return 2
    try:
        security = client_security(args, remote_flag="--target")
    except SecurityArgumentError as exc:
        print(f"colorizer soak: {exc}", file=sys.stderr)
        return 2
    secure: CallSecurity = {
        "channel_credentials": security.get("credentials"),
        "metadata": bearer_metadata(security.get("token")),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    requests = sample_requests(16, args.size)
    with contextlib.ExitStack() as stack:
        gateway: LocalGateway | None = None
        if args.target is None:
            env = {"COLORIZER_MODEL_REPOSITORY": str(args.model_repository), "COLORIZER_LOG_LEVEL": "WARNING"}
            if args.max_queue:
                env["COLORIZER_MAX_QUEUE"] = str(args.max_queue)
            gateway = stack.enter_context(LocalGateway(env, log_path=args.out / "gateway.log"))
        target = args.target or (gateway.address if gateway else "")
        pid = gateway.pid if gateway else args.pid
        rss = (lambda: process_rss(pid)) if pid else (lambda: 0)
        if args.overload:
            report = asyncio.run(
                run_overload(
                    target,
                    requests,
                    rss=rss,
                    base_concurrency=args.concurrency,
                    overload_concurrency=args.overload,
                    phase_s=args.phase_seconds,
                    overload_s=args.overload_seconds,
                    **secure,
                )
            )
            summary = report.summary()
        else:

            def show(sample: object) -> None:
                print(json.dumps(vars(sample)), flush=True)

            soak = asyncio.run(
                run_soak(
                    target,
                    requests,
                    minutes=args.minutes,
                    concurrency=args.concurrency,
                    rss=rss,
                    interval_s=args.interval,
                    warmup_s=args.warmup,
                    on_sample=show,
                    **secure,
                )
            )
            summary = soak.summary()
            plot_soak(soak, args.out / "rss.png")
        summary["server_alive"] = gateway is None or gateway.returncode is None
    text = json.dumps(summary, indent=2)
    (args.out / "report.json").write_text(text)
    print(
        text if args.overload else json.dumps({k: v for k, v in summary.items() if k != "samples"}, indent=2)
    )
    ok = summary["baseline"]["ok"] if args.overload else summary["ok"]
    if not ok:
        # A load run where nothing got through (wrong token, wrong CA, ...) measured nothing.
        print(f"colorizer soak: no call succeeded ({json.dumps(_codes(summary))})", file=sys.stderr)
    return 0 if summary["server_alive"] and ok else 1


def _codes(summary: dict[str, object]) -> object:
    """The error codes of a soak or overload summary, for the message above."""
    baseline = summary.get("baseline")
    return baseline.get("codes") if isinstance(baseline, dict) else summary.get("errors")
