"""Unconditional discriminator: sees only an RGB image, never the sketch.

PaintsChainer found a conditional discriminator over-attends to the sketch-image relation and
distorts content; the paper follows it. Trained with sigmoid cross-entropy, so it returns logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Discriminator(nn.Module):
    """Strided conv stack -> patch logits [N, 1, H/2^k, W/2^k] (apply BCE-with-logits)."""

    def __init__(self, widths: Sequence[int] = (32, 64, 128, 256), in_ch: int = 3) -> None:
        super().__init__()
        if not widths:
            raise ValueError("the discriminator needs at least one width")
        layers: list[nn.Module] = []
        prev = in_ch
        for i, w in enumerate(widths):
            layers.append(nn.Conv2d(prev, w, 4, stride=2, padding=1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(w))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            prev = w
        layers.append(nn.Conv2d(prev, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``image`` [N,3,H,W] in 0..1 -> logits."""
        return self.net(image * 2.0 - 1.0)
