"""Export a checkpoint to ONNX and write the Triton model repository (config.pbtxt + model.onnx)."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorizer import contract


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``colorizer export``."""
    parser.add_argument("--checkpoint", type=Path, required=True, help="training checkpoint (.pt)")
    parser.add_argument("--repository", type=Path, default=Path("model_repository"),
                        help="Triton model repository to write (default: model_repository)")
    parser.add_argument("--fp16", action="store_true",
                        help="half-precision weights inside the graph (inputs/outputs stay float32)")
    parser.add_argument("--max-batch-size", type=int, default=16, help="Triton max_batch_size (default 16)")
    parser.add_argument("--parity-size", type=int, default=contract.DEFAULT_SIZE,
                        help=f"side of the parity-check images (multiple of {contract.STRIDE})")


def run(args: argparse.Namespace) -> int:
    """Export, check, and print the figures."""
    import logging
    import warnings

    # The exporter's optimizer logs every rewrite at INFO, and torch warns about its own internals.
    for name in ("onnx_ir", "onnxscript"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*axis name.*will not be used")
    from export.onnx_export import ParityError
    from export.pipeline import export_checkpoint
    from export.repository import BatchingPolicy

    try:
        policy = BatchingPolicy(max_batch_size=args.max_batch_size)
        report = export_checkpoint(args.checkpoint, args.repository, fp16=args.fp16, policy=policy,
                                   parity_size=args.parity_size)
    except (ValueError, FileNotFoundError, ParityError) as exc:
        print(f"colorizer export: {exc}")
        return 2
    errors = ", ".join(f"batch {b}: {e:.3g}" for b, e in report.parity.max_abs_error.items())
    print(f"wrote {report.onnx_path} ({report.size_bytes / 1e6:.2f} MB, sha256 {report.sha256[:16]})")
    print(f"wrote {report.config_path}")
    print(f"export time {report.export_s:.1f} s")
    print(f"parity vs PyTorch at {report.parity.height}x{report.parity.width}: max abs error "
          f"{report.parity.worst:.3g} ({errors})")
    print("provenance: " + ", ".join(f"{k}={v}" for k, v in report.metadata.items()))
    return 0
