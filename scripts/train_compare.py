"""Train the generator or the plain U-Net with the project's trainer, for the quality comparison.

``colorizer train`` always builds the SGRU generator. This script reuses its library (config,
data stream, losses, checkpoints) and swaps in :class:`colorizer.model.plain_unet.PlainUNet` when
``--arch plain_unet`` is given, so both models see the same data, settings and budget. The plain
U-Net's checkpoints carry ``"arch": "plain_unet"``; ``colorizer eval --checkpoint`` reads both.

    python scripts/train_compare.py --arch plain_unet --preset cpu --out runs/eval/plain \
        --threads 1 --workers 0 --max-minutes 22 --lr 1e-3
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

import torch

from colorizer.model.plain_unet import ARCH, build_plain_unet
from colorizer.train import train_cmd
from colorizer.train.config import TrainConfig
from colorizer.train.trainer import Trainer


class PlainUNetTrainer(Trainer):
    """The project's trainer with the plain U-Net as generator."""

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__(cfg)
        self.generator = build_plain_unet(cfg.preset).to(self.device)  # type: ignore[assignment]
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        self.meta["params"] = sum(p.numel() for p in self.generator.parameters())
        self.meta["arch"] = ARCH

    def state(self) -> dict[str, Any]:
        payload = super().state()
        payload["arch"] = ARCH
        return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("sgru", ARCH), default="sgru", help="which generator to train")
    train_cmd.add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    cfg = TrainConfig.from_dict({**TrainConfig().to_dict(), **given})
    trainer = PlainUNetTrainer(cfg) if args.arch == ARCH else Trainer(cfg)
    if args.resume:  # give the same settings again; --steps may raise the target
        trainer.load(Path(cfg.out) / "last.pt" if args.resume == "auto" else Path(args.resume))
    trainer.fit(progress=not args.no_progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
