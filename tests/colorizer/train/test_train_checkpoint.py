"""Checkpoints round-trip; --resume continues the step count; finalize writes a small model."""

import json
from dataclasses import replace
from pathlib import Path

import torch

from colorizer.checkpoint import load_checkpoint, load_generator
from colorizer.cli import main
from colorizer.train.config import TrainConfig
from colorizer.train.finalize import finalize
from colorizer.train.trainer import Trainer


def test_checkpoint_round_trip(tiny_cfg: TrainConfig) -> None:
    trainer = Trainer(tiny_cfg)
    trainer.fit(progress=False)
    run = Path(tiny_cfg.out)
    ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["step"] == 4 and ckpt["config"] == tiny_cfg.to_dict()
    assert "off" in ckpt["meta"]["perceptual"]
    assert {"discriminator", "opt_g", "opt_d", "rng", "widths", "preset"} <= set(ckpt)
    g, _ = load_generator(run / "last.pt")
    sketch, hint, _ = trainer.val_batch
    trainer.generator.eval()
    with torch.no_grad():
        torch.testing.assert_close(g(sketch, hint), trainer.generator(sketch, hint))
    other = Trainer(tiny_cfg)
    other.load(run / "last.pt")
    assert other.step == 4 and other.samples_seen == 8
    for a, b in zip(other.opt_g.state_dict()["state"].values(), trainer.opt_g.state_dict()["state"].values(),
                    strict=True):
        torch.testing.assert_close(a["exp_avg"], b["exp_avg"])
    assert (run / "loss_curve.png").stat().st_size > 0
    assert sorted(p.name for p in (run / "samples").glob("*.png"))
    kinds = {json.loads(line)["kind"] for line in (run / "log.jsonl").read_text().splitlines()}
    assert kinds == {"train", "val"}


def test_resume_continues_step_count(tiny_cfg: TrainConfig, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    common = ["train", "--preset", "tiny", "--crop", "32", "--batch-size", "2", "--workers", "0",
              "--threads", "1", "--val-size", "2", "--out", str(out), "--no-progress",
              "--ckpt-every", "2", "--log-every", "1"]
    assert main([*common, "--steps", "3"]) == 0
    assert load_checkpoint(out / "last.pt")["step"] == 3
    assert main([*common, "--steps", "5", "--resume"]) == 0
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["step"] == 5 and ckpt["samples_seen"] == 10
    steps = [json.loads(x)["step"] for x in (out / "log.jsonl").read_text().splitlines()
             if json.loads(x)["kind"] == "train"]
    assert steps[-2:] == [4, 5]
    # a finalized model is small and loads; resuming from it is refused with a clear message
    model = finalize(out, tmp_path / "model.pt", tmp_path / "samples.png", rows=2)
    small = torch.load(model, weights_only=False)
    assert "opt_g" not in small and small["step"] == 5
    assert model.stat().st_size < (out / "last.pt").stat().st_size / 2
    assert (tmp_path / "samples.png").stat().st_size > 0
    assert main([*common, "--steps", "6", "--resume", str(model)]) == 2


def test_bad_settings_are_clear(tiny_cfg: TrainConfig) -> None:
    import pytest

    with pytest.raises(ValueError, match="multiples of 16"):
        replace(tiny_cfg, crop=40)
    with pytest.raises(ValueError, match="unknown preset"):
        replace(tiny_cfg, preset="nope")
    assert main(["train", "--resume", "--out", "/nonexistent/run"]) == 2


def test_a_milestone_file_is_small_and_resumes(tiny_cfg: TrainConfig, tmp_path: Path) -> None:
    """finalize --milestone keeps G and D (no Adam states); --resume goes on from it."""
    trainer = Trainer(tiny_cfg)
    trainer.fit(progress=False)
    full = Path(tiny_cfg.out) / "last.pt"
    milestone = finalize(Path(tiny_cfg.out), tmp_path / "m.pt", milestone=True)
    assert milestone.stat().st_size < full.stat().st_size / 2
    ckpt = load_checkpoint(milestone)
    assert "discriminator" in ckpt and "opt_g" not in ckpt and ckpt["step"] == 4
    cfg = replace(tiny_cfg, out=str(tmp_path / "again"), steps=6)
    again = Trainer(cfg)
    again.load(milestone)
    assert again.step == 4 and again.samples_seen == 8
    for a, b in zip(again.discriminator.state_dict().values(), trainer.discriminator.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b)
    again.fit(progress=False)
    assert again.step == 6
