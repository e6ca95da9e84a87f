"""Checkpoint -> checked ONNX file + ``config.pbtxt`` in a Triton repository (the export stage)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from colorizer import contract
from export import logger
from export import onnx_export as ox
from export import repository as repo


@dataclass(frozen=True)
class ExportReport:
    """What an export produced and the figures it measured."""

    onnx_path: Path
    config_path: Path
    sha256: str
    size_bytes: int
    export_s: float
    parity: ox.ParityResult
    metadata: dict[str, str] = field(default_factory=dict)


def export_checkpoint(
    checkpoint: Path,
    repository: Path,
    *,
    fp16: bool = False,
    policy: repo.BatchingPolicy | None = None,
    parity_batches: tuple[int, ...] = (1, 3, 8),
    parity_size: int = contract.DEFAULT_SIZE,
) -> ExportReport:
    """Export a training checkpoint into ``repository`` (``colorizer/1/model.onnx`` + config).

    Raises :class:`export.onnx_export.ParityError` if ONNX Runtime disagrees with PyTorch by more
    than 1e-4 (FP32) or 2e-2 (FP16); nothing is left in the repository in that case.
    """
    from colorizer.checkpoint import load_generator

    checkpoint, repository = Path(checkpoint), Path(repository)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    contract.check_size(parity_size, parity_size)
    policy = policy or repo.BatchingPolicy()
    generator, ckpt = load_generator(checkpoint)
    metadata = ox.provenance(checkpoint, ckpt, fp16=fp16)
    target = repo.onnx_path(repository)
    staging = target.with_name(target.name + ".tmp")
    start = time.perf_counter()
    ox.export_onnx(generator, staging, metadata=metadata, fp16=fp16)
    export_s = time.perf_counter() - start
    try:
        parity = ox.check_parity(
            generator, staging, batch_sizes=parity_batches, height=parity_size, width=parity_size,
            tolerance=ox.FP16_TOLERANCE if fp16 else ox.FP32_TOLERANCE,
        )
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    staging.replace(target)  # only a file that passed the checks reaches the repository
    config = repo.write_config(repo.onnx_config(policy), repo.config_path(repository))
    report = ExportReport(
        onnx_path=target, config_path=config, sha256=ox.sha256_file(target),
        size_bytes=target.stat().st_size, export_s=export_s, parity=parity, metadata=metadata,
    )
    logger.info("export done: %s (%d bytes, sha256 %s), parity max abs error %.3g",
                target, report.size_bytes, report.sha256[:12], parity.worst)
    return report
