"""Fuzz a live gateway with hostile requests (bad images, bombs, random hints); report any failure."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from service.client.security_args import add_security_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``colorizer fuzz``."""
    parser.add_argument("--target", help="HOST:PORT of a running gateway; default: start one locally")
    parser.add_argument("--cases", type=int, default=2000, help="number of cases (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same cases")
    parser.add_argument("--concurrency", type=int, default=4, help="cases in flight at once (default 4)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-call deadline in seconds")
    parser.add_argument(
        "--pixel-limit",
        type=int,
        default=4096 * 4096,
        help="the target's max_sketch_pixels (bombs are made at and just over it)",
    )
    parser.add_argument("--pid", type=int, help="pid of --target's process, to measure its RSS")
    parser.add_argument("--model-repository", default="model_repository", help="for the local gateway")
    parser.add_argument("--json", type=Path, help="write the report here as JSON")
    parser.add_argument(
        "--hostile",
        metavar="PROBES",
        help="instead of the cases: the hostile-client probes of bench/hostile.py, 'all' or a comma "
        "list of malformed,stream_garbage,idle_streams,unread_stream,heavy_hints,deadline_metrics "
        "(each against its own local gateway; the SIGTERM probe is `colorizer soak --sigterm`)",
    )
    parser.add_argument(
        "--server-checkout",
        type=Path,
        help="with --hostile: run the gateway from this checkout (e.g. the code before a fix), "
        "the client from this one: the same measurement before and after",
    )
    parser.add_argument("--quick", action="store_true", help="with --hostile: smaller unread-stream run")
    add_security_arguments(parser, remote_flag="--target")


def run_hostile(args: argparse.Namespace, probes: tuple[str, ...]) -> int:
    """Run hostile-client probes against local gateways; print (and save) their figures."""
    import asyncio

    from bench.hostile import PROBES, run_probes

    unknown = [p for p in probes if p not in PROBES]
    if unknown:
        print(
            f"colorizer: unknown probe(s) {', '.join(unknown)}; known: {', '.join(PROBES)}", file=sys.stderr
        )
        return 2
    env = {
        "COLORIZER_MODEL_REPOSITORY": str(Path(args.model_repository).resolve()),
        "COLORIZER_LOG_LEVEL": "ERROR",
    }
    checkout = str(args.server_checkout.resolve()) if args.server_checkout else None
    figures = asyncio.run(run_probes(probes, env, server_pythonpath=checkout, quick=args.quick))
    text = json.dumps({"server_checkout": checkout, "probes": figures}, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0 if all(f.get("server_alive", True) for f in figures.values()) else 1


def run(args: argparse.Namespace) -> int:
    """Run the cases; exit 1 when any answer broke the contract or the server died."""
    import asyncio
    import contextlib

    from bench.fuzz import CaseGenerator, FuzzReport, run_fuzz
    from bench.soak import LocalGateway, RssSampler, process_rss
    from service.client.client import bearer_metadata
    from service.client.security_args import SecurityArgumentError, client_security

    if args.hostile:
        from bench.hostile import PROBES

        names = (
            tuple(p for p in PROBES if p != "sigterm")
            if args.hostile == "all"
            else tuple(args.hostile.split(","))
        )
        return run_hostile(args, names)
    if args.cases < 1 or args.concurrency < 1:
        print("colorizer fuzz: --cases and --concurrency must be >= 1", file=sys.stderr)
        return 2
    try:
        security = client_security(args, remote_flag="--target")
    except SecurityArgumentError as exc:
        print(f"colorizer fuzz: {exc}", file=sys.stderr)
        return 2
    metadata = bearer_metadata(security.get("token"))
    with contextlib.ExitStack() as stack:
        gateway: LocalGateway | None = None
        if args.target is None:
            gateway = stack.enter_context(
                LocalGateway(
                    {
                        "COLORIZER_MODEL_REPOSITORY": str(args.model_repository),
                        "COLORIZER_MAX_SKETCH_PIXELS": str(args.pixel_limit),
                        "COLORIZER_LOG_LEVEL": "ERROR",
                    }
                )
            )
        target = args.target or (gateway.address if gateway else "")
        pid = gateway.pid if gateway else args.pid
        rss = (lambda: process_rss(pid)) if pid else (lambda: 0)

        async def go() -> tuple[FuzzReport, RssSampler]:
            cases = CaseGenerator(args.seed, pixel_limit=args.pixel_limit).cases(args.cases)
            async with RssSampler(rss) as sampler:
                report = await run_fuzz(
                    target,
                    cases,
                    concurrency=args.concurrency,
                    timeout_s=args.timeout,
                    credentials=security.get("credentials"),
                    metadata=metadata,
                )
            return report, sampler

        start_rss = rss()
        report, sampler = asyncio.run(go())
        alive = gateway is None or gateway.returncode is None
    summary = {
        "target": target,
        "cases": report.cases,
        "seed": args.seed,
        "codes": report.codes,
        "failures": len(report.failures),
        "failure_examples": report.failures[:20],
        "server_alive": alive,
        "max_latency_s": round(report.max_latency_s, 3),
        "wall_s": round(report.wall_s, 1),
        "rss_start_mb": round(start_rss / 2**20, 1),
        "rss_peak_mb": round(sampler.peak / 2**20, 1),
        "rss_end_mb": round((sampler.samples[-1][1] if sampler.samples else 0) / 2**20, 1),
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0 if not report.failures and alive else 1
