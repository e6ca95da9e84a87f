"""A tiny model overfits one fixed pair: the loss falls by a large factor in a few hundred steps."""

from dataclasses import replace

import torch

from colorizer.data.dataset import SyntheticDataset, fixed_batch
from colorizer.train.config import TrainConfig
from colorizer.train.trainer import Trainer


def test_overfits_fixed_pair(tiny_cfg: TrainConfig) -> None:
    cfg = replace(tiny_cfg, lr=3e-3, w_a=0.0, w_hint=0.0)
    trainer = Trainer(cfg)
    batch = fixed_batch(SyntheticDataset(32, seed=5), [0, 0])  # one pair, twice (BatchNorm)
    first = trainer.train_step(batch)["huber"]
    for _ in range(200):
        last = trainer.train_step(batch)["huber"]
    assert last < first / 10, (first, last)
    with torch.no_grad():
        trainer.generator.train()
        out = trainer.generator(batch[0], batch[1])
    assert float((out - batch[2]).abs().mean()) < 0.05
