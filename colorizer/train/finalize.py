"""Turn a training run into the shipped model file: generator only, plus a sample grid."""

from __future__ import annotations

from pathlib import Path

import torch

from colorizer import checkpoint
from colorizer.data.dataset import SyntheticDataset, fixed_batch
from colorizer.train import logger
from colorizer.train.samples import sample_grid, write_png

#: Seed of the synthetic examples in the finalized sample grid (not a training seed).
SAMPLE_SEED = 20261127
SAMPLE_SIZE = 256


def finalize(
    run_dir: str | Path,
    to: str | Path,
    samples: str | Path | None = None,
    rows: int = 4,
    *,
    milestone: bool = False,
) -> Path:
    """Copy the generator of ``run_dir/last.pt`` (no optimizer state) to ``to``; draw ``samples``.

    ``milestone`` also keeps the discriminator and the data counters, so ``--resume`` can go on
    from the file (with fresh Adam moments: the optimizer states would triple its size, and a
    milestone is committed to git, under ~10 MB).
    """
    run_dir = Path(run_dir)
    src = run_dir / "last.pt" if run_dir.is_dir() else run_dir
    if not src.is_file():
        raise FileNotFoundError(f"no checkpoint at {src}")
    ckpt = checkpoint.load_checkpoint(src)
    generator, _ = checkpoint.load_generator(src)
    payload = checkpoint.generator_payload(generator, ckpt["preset"], ckpt.get("arch", "sgru"))
    payload.update(step=ckpt.get("step"), config=ckpt.get("config"), meta=ckpt.get("meta", {}))
    if milestone:
        if "discriminator" not in ckpt:
            raise ValueError(f"{src} has no discriminator: not a training checkpoint")
        payload.update(discriminator=ckpt["discriminator"], samples_seen=ckpt.get("samples_seen"))
    to = Path(to)
    to.parent.mkdir(parents=True, exist_ok=True)
    tmp = to.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(to)
    logger.info("wrote %s (step %s, %.1f MB)", to, payload["step"], to.stat().st_size / 1e6)
    if samples is not None:
        sketch, hint, truth = fixed_batch(SyntheticDataset(SAMPLE_SIZE, seed=SAMPLE_SEED), range(rows))
        with torch.no_grad():
            output = generator(sketch, hint)
        write_png(samples, sample_grid(sketch, hint, output, truth))
        logger.info("wrote %s", samples)
    return to
