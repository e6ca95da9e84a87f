"""The ``colorizer`` command: one entry point with a subcommand per stage.

Each subcommand lives in its own module, which defines ``add_arguments(parser)`` and
``run(args) -> int``. Only the chosen subcommand's module is imported, so ``colorizer serve``
never loads torch (the gateway image has none) and ``colorizer --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

#: subcommand -> (module implementing it, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("colorizer.datasets.data_cmd", "Prepare real line art from the package registries."),
    "synth": ("colorizer.data.synth_cmd", "Write procedural anime-like illustrations and region labels."),
    "train": ("colorizer.train.train_cmd", "Train the generator, or finalize a run into a model file."),
    "export": ("export.export_cmd", "Export a checkpoint to ONNX and a Triton model repository."),
    "triton": ("export.triton_cmd", "Run a real local Triton on a CPU twin of a model repository."),
    "serve": ("service.serve_cmd", "Run the gRPC gateway (API, health, reflection, metrics)."),
    "colorize": ("service.client.colorize_cmd", "Color one sketch (through --server or in-process)."),
    "batch": ("service.client.batch_cmd", "Color every sketch in a folder (resumable)."),
    "demo": ("service.demo_cmd", "Serve the committed model, color examples/, write a contact sheet."),
    "eval": ("colorizer.eval.eval_cmd", "Measure colorization quality against the number of hints."),
    "bench": ("bench.bench_cmd", "Benchmark raw ONNX Runtime, the gateway, Triton and image stages."),
    "fuzz": ("bench.fuzz_cmd", "Fuzz a live gateway with hostile requests."),
    "soak": ("bench.soak_cmd", "Soak or overload a gateway: throughput, latency and RSS over time."),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; the full options only of ``command`` (whose module is imported)."""
    parser = argparse.ArgumentParser(prog="colorizer", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name != command:
            continue
        try:
            module = importlib.import_module(module_name)
            p.description = module.__doc__
            p.formatter_class = argparse.RawDescriptionHelpFormatter
            module.add_arguments(p)
        except ModuleNotFoundError as exc:
            # A stage whose optional dependencies are not installed (torch in the gateway
            # image) explains itself instead of breaking the CLI.
            p.set_defaults(_run=_unavailable(name, str(exc.name)))
            continue
        p.set_defaults(_run=module.run)
    return parser


def _unavailable(name: str, missing: str):  # type: ignore[no-untyped-def]
    def run(_args: argparse.Namespace) -> int:
        print(f"colorizer {name}: needs the '{missing}' package, which is not installed", file=sys.stderr)
        return 2

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    args = build_parser(command).parse_args(args_list)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
