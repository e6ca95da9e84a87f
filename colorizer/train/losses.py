"""The generator's and discriminator's losses: perceptual (any frozen feature extractor), Huber, sigmoid CE.

Generator loss = w_p * perceptual + w_h * Huber + w_a * adversarial (+ w_hint * hinted-cell L1);
the Huber term may weigh pixels next to the sketch's lines more (``line_weights``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from colorizer import contract
from colorizer.model.vgg import SGRU_WEIGHTS


class PerceptualLoss(nn.Module):
    """Weighted L1 between named activations (and pixels) of output and truth.

    ``extractor``: any module mapping RGB 0..1 to ``dict[str, Tensor]``: a
    :class:`~colorizer.model.features.FeatureExtractor` (``build_extractor(name)``) or, as before, a
    :class:`~colorizer.model.vgg.VGG19Features`. ``weights``: layer -> weight (``"pixels"`` is the
    image itself); by default the extractor's ``default_weights``, else SGRU's VGG19 weights.
    The truth's activations are computed without a graph unless the truth itself requires grad.
    """

    def __init__(self, extractor: nn.Module, weights: Mapping[str, float] | None = None) -> None:
        super().__init__()
        self.extractor = extractor
        if weights is None:
            weights = getattr(extractor, "default_weights", SGRU_WEIGHTS)
        self.weights = dict(weights)
        layers = getattr(extractor, "layers", None)
        if layers is not None:
            unknown = sorted(k for k in self.weights if k != "pixels" and k not in layers)
            if unknown:
                raise ValueError(f"perceptual weights for layers {unknown} the extractor does not give "
                                 f"(it gives {list(layers)})")  # fmt: skip

    @property
    def vgg(self) -> nn.Module:
        """The extractor (the name this attribute had when it could only be VGG19)."""
        return self.extractor

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fo = self.extractor(output)
        with torch.set_grad_enabled(torch.is_grad_enabled() and target.requires_grad):
            ft = self.extractor(target)
        total = self.weights.get("pixels", 0.0) * F.l1_loss(output, target)
        for name, w in self.weights.items():
            if name != "pixels":
                total = total + w * F.l1_loss(fo[name], ft[name])
        return total


def huber(output: torch.Tensor, target: torch.Tensor, delta: float) -> torch.Tensor:
    """Huber loss divided by ``delta`` (smooth-L1): L1-sized values whatever ``delta`` is."""
    return F.smooth_l1_loss(output, target, beta=delta)


def line_weights(sketch: torch.Tensor, w_edge: float, radius: int) -> torch.Tensor:
    """[N,1,H,W] per-pixel weights: 1 + ``w_edge`` within ``radius`` px (a square) of ink (< 0.5)."""
    ink = (sketch < 0.5).to(sketch.dtype)
    near = F.max_pool2d(ink, kernel_size=2 * radius + 1, stride=1, padding=radius)
    return 1.0 + w_edge * near


def weighted_huber(
    output: torch.Tensor, target: torch.Tensor, delta: float, weights: torch.Tensor
) -> torch.Tensor:
    """:func:`huber` with per-pixel ``weights`` [N,1,H,W], normalised by their mean.

    Normalising keeps the term's scale (and so its balance with the others) whatever share of
    the crop is near lines; only where the error counts moves.
    """
    per_pixel = F.smooth_l1_loss(output, target, beta=delta, reduction="none")
    return (per_pixel * weights).mean() / weights.mean()


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator sigmoid cross-entropy: real -> 1, generated -> 0."""
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def g_adv_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator's adversarial sigmoid cross-entropy: make generated images look real."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def cell_means(image: torch.Tensor) -> torch.Tensor:
    """[N,3,H,W] -> [N,3,H/4,W/4]: mean of each 4x4 block's central 2x2 (as hints sample colors)."""
    s = contract.HINT_SCALE
    n, c, h, w = image.shape
    blocks = image.reshape(n, c, h // s, s, w // s, s)
    return blocks[:, :, :, 1:3, :, 1:3].mean(dim=(3, 5))


def hinted_l1(output: torch.Tensor, hint: torch.Tensor) -> torch.Tensor:
    """Mean L1 between the output's cell colors and the hint colors, over hinted cells only."""
    mask = hint[:, 3:4]
    count = mask.sum() * 3
    if count.item() == 0:
        return output.new_zeros(())
    return (torch.abs(cell_means(output) - hint[:, :3]) * mask).sum() / count
