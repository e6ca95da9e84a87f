"""Benchmark raw ONNX Runtime, the gateway, gateway->Triton vs direct Triton, image stages, INT8.

Writes bench.json, bench.md and bench.png to --out. All compared rows come from this one run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

_MODES = ("raw", "gateway", "triton", "stages", "int8")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``colorizer bench``."""
    parser.add_argument("--quick", action="store_true", help="tiny sizes and budgets (seconds per mode)")
    parser.add_argument(
        "--out", type=Path, default=Path("docs/perf"), help="report folder (default docs/perf)"
    )
    parser.add_argument(
        "--modes",
        default=",".join(_MODES),
        help=f"comma-separated subset of {','.join(_MODES)} (default all)",
    )
    parser.add_argument(
        "--model-repository",
        type=Path,
        default=Path("model_repository"),
        help="Triton-layout repository holding colorizer/<version>/model.onnx",
    )
    parser.add_argument(
        "--input-size",
        type=int,
        default=0,
        help="model canvas side served by the gateway (default: the contract's 256)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the embedded gateway under py-spy: where its CPU goes, in bench.md and "
        "gateway-profile.txt (collapsed stacks; speedscope.app and flamegraph.pl open them). "
        "The sampler takes some CPU: quote throughput from a run without it",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="gateway and triton modes: every row this many times, in rounds one after another; "
        "the targets take each row's median (this machine's noise moves one row by ~0.05)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where logs and the INT8 model go (default: a temporary folder)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the modes, write the report, print where it went and the targets."""
    import logging
    import tempfile

    from bench.report import write_report
    from bench.runner import BenchConfig, run_bench
    from colorizer import contract

    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    unknown = [m for m in modes if m not in _MODES]
    if unknown:
        print(f"colorizer bench: unknown mode(s) {unknown}; choose from {_MODES}", file=sys.stderr)
        return 2
    canvas = args.input_size or contract.DEFAULT_SIZE
    try:
        contract.check_size(canvas, canvas)
    except ValueError as exc:
        print(f"colorizer bench: --input-size: {exc}", file=sys.stderr)
        return 2
    if args.repeat < 1:
        print("colorizer bench: --repeat must be >= 1", file=sys.stderr)
        return 2
    cfg = BenchConfig.make(
        args.model_repository, canvas, quick=args.quick, modes=modes, profile=args.profile, repeat=args.repeat
    )
    logging.getLogger("export").setLevel(logging.WARNING)

    def progress(message: str) -> None:
        print(f"colorizer bench: {message}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="colorizer-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        report = run_bench(cfg, workdir, progress)
        paths = write_report(report, args.out)
    for t in report["targets"]:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        value = "-" if t["value"] is None else f"{t['value']:.3f}"
        print(f"{verdict:>12}  {value:>7} {t['op']} {t['limit']}  {t['name']}  ({t['detail']})")
    print(f"report: {paths['json']}  {paths['markdown']}  {paths['plot']}")
    return 0
