"""The ``colorizer`` command: one entry point with a subcommand per stage.

Each subcommand lives in its own module, which defines ``add_arguments(parser)`` and
``run(args) -> int`` and keeps heavy imports (torch, onnxruntime, grpc) inside ``run`` so that
``colorizer --help`` stays fast and the serving image never needs torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

#: subcommand -> module implementing it.
COMMANDS: dict[str, str] = {
    "synth": "colorizer.data.synth_cmd",
    "train": "colorizer.train.train_cmd",
    "export": "export.export_cmd",
    "triton": "export.triton_cmd",
    "serve": "service.serve_cmd",
    "colorize": "service.client.colorize_cmd",
    "batch": "service.client.batch_cmd",
    "demo": "service.demo_cmd",
    "eval": "colorizer.eval.eval_cmd",
    "bench": "bench.bench_cmd",
    "fuzz": "bench.fuzz_cmd",
    "soak": "bench.soak_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one subparser per available stage."""
    parser = argparse.ArgumentParser(prog="colorizer", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # A stage whose optional dependencies are not installed (e.g. torch in the
            # gateway image) is listed but explains itself instead of breaking the CLI.
            missing = exc.name
            p = sub.add_parser(name, help=f"(unavailable: {missing} not installed)")
            p.set_defaults(_run=_unavailable(name, str(missing)))
            continue
        doc = (module.__doc__ or name).strip().splitlines()[0]
        p = sub.add_parser(name, help=doc, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _unavailable(name: str, missing: str):  # type: ignore[no-untyped-def]
    def run(_args: argparse.Namespace) -> int:
        print(f"colorizer {name}: needs the '{missing}' package, which is not installed", file=sys.stderr)
        return 2

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
