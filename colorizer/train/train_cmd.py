"""Train the colorization generator (and its discriminator), or finalize a run into a small model file.

``colorizer train --preset cpu --out runs/demo`` trains on synthetic illustrations (``--data DIR``
for a folder of color images); ``--resume`` continues ``OUT/last.pt`` (settings from the checkpoint,
overridden by options given on the command line). ``colorizer train --finalize RUN --to FILE`` writes
the generator-only payload of ``RUN/last.pt`` and a sample grid.

``torchrun --nproc_per_node K -m colorizer.cli train ...`` trains the same run on K processes
(DistributedDataParallel; ``--batch-size`` stays the global batch): see
:mod:`colorizer.train.distributed`.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

_FLAGS: dict[str, tuple[type, str]] = {
    "preset": (str, "generator preset: tiny, cpu, base"),
    "arch": (str, "sgru (the paper's generator, default) or plain_unet (the comparison baseline)"),
    "data": (str, "folder of color images (default: synthetic illustrations)"),
    "real": (str, "root of prepared real line-art pairs (`colorizer data`), mixed in"),
    "real_ratio": (float, "share of samples from --real (1.0: real only)"),
    "init": (str, "start the generator from this model file or checkpoint (fine-tune)"),
    "out": (str, "run folder"),
    "steps": (int, "total optimizer steps"),
    "max_minutes": (float, "wall-time budget of this invocation, minutes"),
    "batch_size": (int, "batch size"),
    "crop": (int, "training crop side (multiple of 16)"),
    "lr": (float, "Adam learning rate (paper: 1e-4)"),
    "lr_d": (float, "discriminator learning rate (default: --lr)"),
    "beta1": (float, "Adam beta1"),
    "beta2": (float, "Adam beta2"),
    "w_p": (float, "perceptual loss weight (needs --perceptual or --vgg-weights)"),
    "w_h": (float, "Huber loss weight"),
    "w_a": (float, "adversarial loss weight"),
    "w_hint": (float, "extra L1 weight at hinted cells"),
    "w_edge": (float, "extra Huber weight within --edge-radius px of the sketch's lines"),
    "edge_radius": (int, "reach of --w-edge in px"),
    "huber_delta": (float, "Huber transition point on 0..1 colors"),
    "adv_start": (int, "step at which the adversarial term starts"),
    "ema_decay": (float, "decay of a moving average of the generator's weights, what ships (0: off)"),
    "perceptual": (str, "perceptual features: efficientnet-lite0, hed-vgg16 (packaged weights) or vgg19"),
    "vgg_weights": (str, "local torchvision-layout VGG19 state dict (the vgg19 features)"),
    "hint_p_none": (float, "probability of a sample without hints"),
    "hint_density_min": (float, "lowest point-hint density (fraction of flat 1/4 cells)"),
    "hint_density_max": (float, "highest point-hint density"),
    "hint_p_regions": (float, "share of hinted samples clicked once per region instead"),
    "hint_p_spread": (float, "share of hinted samples whose hints are spread over their closed regions"),
    "hint_spread_max": (int, "most steps (hint cells) of that spread"),
    "seed": (int, "random seed"),
    "device": (str, "cpu or cuda"),
    "precision": (str, "forward-pass arithmetic: fp32, bf16 (autocast), auto (bf16 where native)"),
    "threads": (int, "torch CPU threads"),
    "workers": (int, "data-loading worker processes"),
    "log_every": (int, "steps between loss-log lines"),
    "val_every": (int, "steps between fidelity measurements"),
    "sample_every": (int, "steps between sample grids"),
    "ckpt_every": (int, "steps between checkpoints"),
    "val_size": (int, "validation batch size"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``colorizer train`` (defaults: colorizer.train.config.TrainConfig)."""
    from colorizer.train.config import TrainConfig

    defaults = TrainConfig()
    for name, (kind, doc) in _FLAGS.items():
        # default None: lets --resume tell options given on the command line from defaults.
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None,
                            help=f"{doc} (default: {getattr(defaults, name)})")
    parser.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CKPT",
                        help="continue from CKPT (default: OUT/last.pt)")
    parser.add_argument("--finalize", type=Path, metavar="RUN", help="write RUN's generator to --to and stop")
    parser.add_argument("--milestone", action="store_true",
                        help="with --finalize: keep the discriminator too (--resume can go on from it)")
    parser.add_argument("--to", type=Path, default=Path("models/colorizer-cpu.pt"),
                        help="finalized model file")
    parser.add_argument("--samples", type=Path, default=Path("docs/images/samples.png"),
                        help="sample grid written by --finalize")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _config(args: argparse.Namespace) -> tuple[Any, Path | None]:
    import torch

    from colorizer.train.config import TrainConfig

    given = {k: getattr(args, k) for k in _FLAGS if getattr(args, k) is not None}
    resume: Path | None = None
    base: dict[str, Any] = dataclasses.asdict(TrainConfig())
    if args.resume:
        out = Path(given.get("out", base["out"]))
        resume = out / "last.pt" if args.resume == "auto" else Path(args.resume)
        if not resume.is_file():
            raise ValueError(f"--resume: no checkpoint at {resume}")
        base = torch.load(resume, map_location="cpu", weights_only=False).get("config", base)
        if "out" not in given and args.resume != "auto":
            given["out"] = str(resume.parent if resume.name == "last.pt" else resume.parent.parent)
    return TrainConfig.from_dict({**base, **given}), resume


def run(args: argparse.Namespace) -> int:
    """Entry point of ``colorizer train``."""
    if args.finalize:
        from colorizer.train.finalize import finalize

        try:
            finalize(args.finalize, args.to, args.samples, milestone=args.milestone)
        except (ValueError, FileNotFoundError) as exc:
            print(f"colorizer train --finalize: {exc}", file=sys.stderr)
            return 2
        return 0
    from colorizer.train.distributed import process_group, world_from_env
    from colorizer.train.trainer import Trainer

    try:
        world = world_from_env()  # torchrun's environment; one process without it
        cfg, resume = _config(args)
    except ValueError as exc:
        print(f"colorizer train: {exc}", file=sys.stderr)
        return 2
    if not world.is_main:
        # Rank 0 speaks for the run; the others only say what goes wrong.
        logging.getLogger("colorizer.train").setLevel(logging.WARNING)
    with process_group(world, cfg.device):
        try:
            trainer = Trainer(cfg, world)
            if resume is not None:
                trainer.load(resume)
        except ValueError as exc:
            print(f"colorizer train: {exc}", file=sys.stderr)
            return 2
        trainer.fit(progress=not args.no_progress)
    return 0
