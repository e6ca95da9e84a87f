"""One rank of a test run under torchrun, or the same run in one process (no torchrun).

``torchrun --nproc_per_node K ddp_worker.py CONFIG.json OUT_DIR STEP [STEP ...]`` trains the config
to each STEP in turn and, after each, records the last step's gradients (averaged over the ranks,
as the optimizer saw them) and losses; at the end it writes ``OUT_DIR/rank<R>.pt`` with those and
the final state dicts of both models, so a test can compare the ranks with each other and with
one process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

from colorizer.train.config import TrainConfig
from colorizer.train.distributed import process_group, world_from_env
from colorizer.train.trainer import Trainer


def run(cfg: TrainConfig, steps: list[int]) -> tuple[int, dict[str, Any]]:
    """Train ``cfg`` to each of ``steps``; (rank, what this rank holds)."""
    world = world_from_env()
    record: dict[str, Any] = {"grads": {}, "losses": {}}
    with process_group(world, cfg.device):
        trainer = Trainer(cfg, world)
        for step in steps:
            trainer.cfg.steps = step  # fit continues the same stream, as --resume would
            record["losses"][step] = trainer.fit(progress=False)
            record["grads"][step] = {
                f"{net}.{name}": p.grad.detach().clone()
                for net, model in (("generator", trainer.generator), ("discriminator", trainer.discriminator))
                for name, p in model.named_parameters()
                if p.grad is not None
            }
        record["generator"] = trainer.generator.state_dict()
        record["discriminator"] = trainer.discriminator.state_dict()
        record["samples_seen"] = trainer.samples_seen
    return world.rank, record


def main() -> None:
    cfg = TrainConfig.from_dict(json.loads(Path(sys.argv[1]).read_text()))
    rank, record = run(cfg, [int(s) for s in sys.argv[3:]])
    torch.save(record, Path(sys.argv[2]) / f"rank{rank}.pt")


if __name__ == "__main__":
    main()
