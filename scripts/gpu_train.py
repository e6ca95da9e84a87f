"""One prepared training run on a lent GPU machine (at most ~9 minutes), from a shard that travels.

A GPU machine gets the working tree (plus up to 64 MiB of carried ignored paths) and no network,
so this script needs only torch and numpy/OpenCV, reads the training pairs from a shard made here
with ``colorizer data --shard runs/shard.npz`` (carried), and writes the checkpoint to an output
folder the device tool brings back::

    python scripts/gpu_train.py --shard runs/shard.npz --out "$OUT/run" --minutes 8 \\
        --init models/colorizer-cpu.pt --preset cpu --crop 256 --batch-size 32

It first prints what is installed (torch, CUDA, the GPU), then trains with the same Trainer as
``colorizer train`` (device cuda, the shard as ``--real``, mixed with synthetic illustrations at
``--real-ratio``), stops at ``--minutes``, and prints steps/s and samples/s. ``--resume`` continues
``OUT/last.pt`` when the folder came back from an earlier run. The CPU path stays complete on its
own: this only makes the minutes of a lent GPU count.

On a machine with several GPUs, one process per GPU (DistributedDataParallel over nccl; the
``--batch-size`` stays the global batch, split over the GPUs; rank 0 writes the run folder)::

    torchrun --standalone --nproc_per_node 8 scripts/gpu_train.py --shard runs/shard.npz \
        --out "$OUT/run" --batch-size 256 --workers 4 ...

(several machines: docs/TRAINING.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a plain checkout, nothing installed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shard", type=Path, required=True, help="colorizer data --shard output")
    p.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, log, samples)")
    p.add_argument("--minutes", type=float, default=8.0, help="wall-time budget of the training loop")
    p.add_argument("--init", type=Path, help="generator to start from (e.g. models/colorizer-cpu.pt)")
    p.add_argument("--resume", action="store_true", help="continue OUT/last.pt")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--real-ratio", type=float, default=0.75)
    p.add_argument("--perceptual", default="efficientnet-lite0")
    p.add_argument("--w-p", type=float, default=0.01)
    p.add_argument("--w-edge", type=float, default=4.0, help="extra Huber weight next to the lines")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--steps", type=int, default=1_000_000)
    args = p.parse_args()

    import torch

    print(
        json.dumps(
            {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "cuda": torch.version.cuda,
                "cuda_available": torch.cuda.is_available(),
                "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            }
        ),
        flush=True,
    )
    if not torch.cuda.is_available():
        print("no CUDA device: this script is for a GPU machine (train on CPU with `colorizer train`)")
        return 2
    torch.backends.cudnn.benchmark = True

    from colorizer.train.config import TrainConfig
    from colorizer.train.distributed import process_group, world_from_env
    from colorizer.train.trainer import Trainer

    cfg = TrainConfig(
        preset=args.preset,
        crop=args.crop,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_d=args.lr / 2,
        w_hint=3.0,
        w_a=0.003,
        adv_start=0,
        real=str(args.shard),
        real_ratio=args.real_ratio,
        perceptual=args.perceptual,
        w_p=args.w_p,
        w_edge=args.w_edge,
        init=str(args.init) if args.init and not args.resume else None,
        device="cuda",
        threads=4,
        workers=args.workers,
        steps=args.steps,
        max_minutes=args.minutes,
        out=str(args.out),
        log_every=50,
        val_every=250,
        sample_every=500,
        ckpt_every=500,
        hint_p_none=0.1,
        hint_density_min=0.005,
        hint_density_max=0.08,
    )
    world = world_from_env()  # torchrun's ranks; one process without it
    with process_group(world, cfg.device):
        trainer = Trainer(cfg, world)
        if args.resume:
            trainer.load(args.out / "last.pt")
        start, first = time.monotonic(), trainer.step
        trainer.fit(progress=False)
    seconds = time.monotonic() - start
    steps = trainer.step - first
    if not world.is_main:
        return 0
    print(
        json.dumps(
            {
                "steps": steps,
                "step": trainer.step,
                "seconds": round(seconds, 1),
                "steps_per_s": round(steps / seconds, 2),
                "samples_per_s": round(steps * cfg.batch_size / seconds, 1),
                "processes": world.size,
                "final_val": trainer.meta.get("final_val"),
                "checkpoint": str(args.out / "last.pt"),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
