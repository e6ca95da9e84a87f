"""Checkpoint format shared by the trainer (writes it) and the export stage (reads it).

A checkpoint is one ``torch.save`` dict. Keys every consumer may rely on:

* ``format``: :data:`FORMAT` (bumped on incompatible change);
* ``arch``: ``"sgru"`` (the paper's generator) or ``"plain_unet"`` (the comparison baseline);
  absent means ``"sgru"``;
* ``preset``: generator preset name; ``widths``: its level widths (authoritative);
* ``generator``: the generator's state dict;
* ``step``: optimizer steps taken; ``config``: the full training config (a plain dict);
* ``meta``: free-form facts (perceptual loss on/off and why, data source, wall time ...).

The trainer adds ``discriminator``, ``opt_g``, ``opt_d`` and RNG states for ``--resume``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from colorizer.model.generator import Generator
from colorizer.model.plain_unet import PlainUNet

FORMAT = 1

#: Model class of each ``arch`` a checkpoint can name.
ARCHS: dict[str, type[Generator] | type[PlainUNet]] = {"sgru": Generator, "plain_unet": PlainUNet}


def generator_payload(generator: Generator | PlainUNet, preset: str, arch: str = "sgru") -> dict[str, Any]:
    """The keys of a checkpoint that describe the generator alone."""
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {sorted(ARCHS)}")
    return {
        "format": FORMAT,
        "arch": arch,
        "preset": preset,
        "widths": list(generator.widths),
        "generator": generator.state_dict(),
    }


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint dict from ``path`` (CPU tensors), checking its format."""
    ckpt = torch.load(Path(path), map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or "generator" not in ckpt:
        raise ValueError(f"{path}: not a colorizer checkpoint (format {FORMAT})")
    return ckpt


def load_generator(path: str | Path) -> tuple[Generator | PlainUNet, dict[str, Any]]:
    """The generator of a checkpoint (of its ``arch``), in eval mode, and the checkpoint dict."""
    ckpt = load_checkpoint(path)
    arch = ckpt.get("arch", "sgru")
    if arch not in ARCHS:
        raise ValueError(f"{path}: unknown arch {arch!r}")
    generator = ARCHS[arch](tuple(ckpt["widths"]))
    generator.load_state_dict(ckpt["generator"])
    generator.eval()
    return generator, ckpt
