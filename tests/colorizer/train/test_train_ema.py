"""The generator's moving average: the update rule, what a checkpoint ships, and --resume."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from colorizer.checkpoint import load_checkpoint, load_generator
from colorizer.train.config import TrainConfig
from colorizer.train.finalize import finalize
from colorizer.train.trainer import Trainer


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items() if v.is_floating_point()}


def test_the_average_follows_the_ema_rule(tiny_cfg: TrainConfig) -> None:
    """decay d: after the first step the average is those weights, then avg <- d*avg + (1-d)*w."""
    trainer = Trainer(replace(tiny_cfg, ema_decay=0.75))
    batches = iter(torch.utils.data.DataLoader(trainer.dataset, batch_size=2))
    trainer.train_step(next(batches))
    first = _weights(trainer.generator)
    assert trainer.ema is not None
    for name, value in _weights(trainer.ema.module).items():
        torch.testing.assert_close(value, first[name])
    trainer.train_step(next(batches))
    second = _weights(trainer.generator)
    moved = 0
    for name, value in _weights(trainer.ema.module).items():
        torch.testing.assert_close(value, 0.75 * first[name] + 0.25 * second[name])
        moved += int(not torch.equal(value, second[name]))
    assert moved > 0  # the average is not the weights


def test_a_checkpoint_ships_the_average_and_resumes_both(tiny_cfg: TrainConfig, tmp_path: Path) -> None:
    cfg = replace(tiny_cfg, ema_decay=0.9)
    trainer = Trainer(cfg)
    trainer.fit(progress=False)
    run = Path(cfg.out)
    ckpt = load_checkpoint(run / "last.pt")
    assert "generator_raw" in ckpt
    served, _ = load_generator(run / "last.pt")  # what eval and export read
    assert trainer.ema is not None
    for name, value in _weights(served).items():
        torch.testing.assert_close(value, _weights(trainer.ema.module)[name])
    again = Trainer(replace(cfg, out=str(tmp_path / "again"), steps=5))
    again.load(run / "last.pt")
    assert again.ema is not None
    for name, value in _weights(again.generator).items():
        torch.testing.assert_close(value, _weights(trainer.generator)[name])
    for name, value in _weights(again.ema.module).items():
        torch.testing.assert_close(value, _weights(trainer.ema.module)[name])
    # the first step after resuming averages into the stored average instead of restarting it
    before = _weights(again.ema.module)
    again.fit(progress=False)
    after_raw = _weights(again.generator)
    for name, value in _weights(again.ema.module).items():
        torch.testing.assert_close(value, 0.9 * before[name] + 0.1 * after_raw[name])
    # a milestone keeps the average (and is what --resume starts both from)
    milestone = finalize(run, tmp_path / "m.pt", milestone=True)
    small = load_checkpoint(milestone)
    assert "generator_raw" not in small
    for name, value in small["generator"].items():
        if value.is_floating_point():
            torch.testing.assert_close(value, ckpt["generator"][name])


def test_a_plain_checkpoint_starts_the_average_at_its_weights(tiny_cfg: TrainConfig, tmp_path: Path) -> None:
    Trainer(tiny_cfg).fit(progress=False)  # no EMA
    plain = Path(tiny_cfg.out) / "last.pt"
    trainer = Trainer(replace(tiny_cfg, out=str(tmp_path / "ema"), ema_decay=0.99))
    trainer.load(plain)
    assert trainer.ema is not None
    for name, value in _weights(trainer.ema.module).items():
        torch.testing.assert_close(value, _weights(trainer.generator)[name])


def test_decay_out_of_range_is_refused(tiny_cfg: TrainConfig) -> None:
    with pytest.raises(ValueError, match="ema_decay"):
        replace(tiny_cfg, ema_decay=1.0)


def test_an_init_run_averages_from_its_starting_weights(tiny_cfg: TrainConfig, tmp_path: Path) -> None:
    """--init: before any step the average (what a checkpoint would ship) is the loaded generator."""
    Trainer(tiny_cfg).fit(progress=False)
    start = Path(tiny_cfg.out) / "last.pt"
    trainer = Trainer(replace(tiny_cfg, out=str(tmp_path / "init"), init=str(start), ema_decay=0.99))
    assert trainer.ema is not None
    loaded = load_checkpoint(start)["generator"]
    for name, value in _weights(trainer.ema.module).items():
        torch.testing.assert_close(value, loaded[name])
