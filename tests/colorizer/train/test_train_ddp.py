"""Training under torchrun: two CPU processes (gloo) train the run one process trains (issue 17).

A real ``torchrun --nproc_per_node 2`` runs :mod:`ddp_worker` (the trainer, each rank dumping
what it holds) and then ``colorizer train --resume`` itself; the same config runs in this process
for comparison. The run is the tiny preset on 32 px crops, global batch 4, the adversarial term
on from the first step (so the discriminator is trained, and wrapped, too).

Parity, and why it is stated on the first step's gradients: two processes sum the same numbers in
another order, so the gradients differ at float32 rounding; Adam's first steps move every weight
by about ``lr * sign(gradient)``, so a weight whose gradient is near 0 can step the other way and
later gradients drift apart from there (after 3 steps by a few percent in the worst tensor, while
the losses still agree to 1e-5 on one host and 1.4e-4 on another). The first step's gradients and
losses are the figures that say whether the two runs compute the same thing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from ddp_worker import run

from colorizer.train.config import TrainConfig
from colorizer.train.trainer import Trainer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
#: Steps the worker trains to, recording gradients after each.
STEPS = [1, 3]
#: Worst per-tensor relative L2 difference of the first step's gradients (measured ~2e-5).
GRAD_TOLERANCE = 1e-4
#: Largest relative difference of a logged loss at the first step (rounding only; measured ~3e-6).
LOSS_TOLERANCE = 1e-4
#: ... and after the later steps, where Adam's sign-like first steps have let the weights drift
#: (measured up to 3e-6 on an Intel host, 1.4e-4 for the adversarial term on an AMD EPYC without
#: AVX-512, whose float32 kernels round differently). A run that computed another loss, a
#: missing gradient all-reduce or a rank on other data, is off by percents.
DRIFT_LOSS_TOLERANCE = 1e-3

pytestmark = pytest.mark.slow


def _torchrun(*args: str, cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same config trained by two processes (each rank's record) and by this one."""
    root = tmp_path_factory.mktemp("ddp")
    cfg = TrainConfig(
        preset="tiny", crop=32, batch_size=4, steps=STEPS[-1], workers=0, threads=1, val_size=2,
        log_every=1, val_every=3, sample_every=3, ckpt_every=100, adv_start=0, out=str(root / "ddp"),
    )
    (root / "cfg.json").write_text(json.dumps(cfg.to_dict()))
    _torchrun(str(HERE / "ddp_worker.py"), str(root / "cfg.json"), str(root), *map(str, STEPS), cwd=ROOT)
    ranks = [torch.load(root / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    _, single = run(dataclasses.replace(cfg, out=str(root / "single")), STEPS)
    return {"root": root, "cfg": cfg, "ranks": ranks, "single": single}


def test_both_ranks_hold_the_same_weights(runs: dict[str, Any]) -> None:
    rank0, rank1 = runs["ranks"]
    for net in ("generator", "discriminator"):
        state0, state1 = rank0[net], rank1[net]
        assert state0.keys() == state1.keys()
        # BatchNorm running statistics included: they come from the global batch on every rank.
        unequal = [k for k in state0 if not torch.equal(state0[k], state1[k])]
        assert not unequal, f"{net}: {unequal[:5]}"


def test_two_processes_match_one_at_the_same_global_batch(runs: dict[str, Any]) -> None:
    ddp, single = runs["ranks"][0], runs["single"]
    assert ddp["samples_seen"] == single["samples_seen"] == STEPS[-1] * runs["cfg"].batch_size
    first_ddp, first_single = ddp["grads"][STEPS[0]], single["grads"][STEPS[0]]
    assert first_ddp.keys() == first_single.keys() and first_single
    worst = max(first_single, key=lambda k: _relative(first_ddp[k], first_single[k]))
    error = _relative(first_ddp[worst], first_single[worst])
    print(f"\nDDP parity: first-step gradients, worst tensor {worst}: relative L2 {error:.2e}")
    assert error <= GRAD_TOLERANCE, (worst, error)
    for step in STEPS:
        tolerance = LOSS_TOLERANCE if step == STEPS[0] else DRIFT_LOSS_TOLERANCE
        for name, value in single["losses"][step].items():
            assert abs(ddp["losses"][step][name] - value) <= tolerance * abs(value), (step, name)


def test_rank_zero_alone_writes_the_run_folder(runs: dict[str, Any]) -> None:
    out = Path(runs["cfg"].out)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r["kind"] == "train"] == [1, 2, 3]  # not one line per rank
    assert (out / "last.pt").is_file() and sorted(p.name for p in (out / "samples").iterdir())


def test_resume_under_torchrun_continues_the_run(runs: dict[str, Any]) -> None:
    """``colorizer train --resume`` on two processes from the step-3 checkpoint, against one process."""
    root, cfg = runs["root"], runs["cfg"]
    _torchrun("-m", "colorizer.cli", "train", "--resume", "--out", cfg.out, "--steps", "5", "--no-progress",
              cwd=ROOT)
    resumed = torch.load(Path(cfg.out) / "last.pt", weights_only=False)
    assert (resumed["step"], resumed["samples_seen"]) == (5, 5 * cfg.batch_size)
    # One process from the same checkpoint: step 4 starts from the same weights and must see the
    # same samples (12..15), so its loss must agree.
    single = Trainer(dataclasses.replace(cfg, steps=5, out=str(root / "single-resumed")))
    single.load(Path(cfg.out) / "checkpoints" / "step_0000003.pt")
    single.fit(progress=False)
    logs = {}
    for name, folder in (("ddp", Path(cfg.out)), ("single", root / "single-resumed")):
        lines = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
        logs[name] = {r["step"]: r for r in lines if r["kind"] == "train"}
    for key in ("huber", "loss_g", "loss_d"):
        value = logs["single"][4][key]
        assert abs(logs["ddp"][4][key] - value) <= LOSS_TOLERANCE * abs(value), key
