"""A plain U-Net in the style of PaintsChainer: the paper's comparison model for the evaluation.

Same interface as :class:`colorizer.model.generator.Generator` (five widths, ``norm_layer`` and
``act_layer`` keywords, ``forward(sketch, hint)``, the hint entering the third level), but none of
SGRU's two changes: skips are concatenated as they are (no swish gate), and each level is a plain
stack of conv units (no concatenating residual block). Each level has three 3x3 conv units instead
of the generator's three 3x3 plus a 1x1 fuse and a gate, and :data:`PLAIN_PRESETS` widens the
levels so that the ``cpu`` preset costs about as many FLOPs as the generator's ``cpu`` preset: a
comparison at equal compute, not at equal widths.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from colorizer import contract
from colorizer.model.generator import ActFactory, ConvUnit, NormFactory, _default_act

#: Widths per preset, chosen so that ``conv_gflops`` at 256x256 is within 10% of the generator
#: preset of the same name.
PLAIN_PRESETS: dict[str, tuple[int, int, int, int, int]] = {
    "cpu": (17, 34, 68, 102, 136),  # 10.2 GFLOP, 1.66 M parameters (generator: 10.6, 1.69 M)
    "tiny": (8, 17, 25, 34, 42),  # 1.9 GFLOP (generator: 2.0)
}

#: Value of a checkpoint's ``arch`` key for this model (the generator's checkpoints have none).
ARCH = "plain_unet"


class PlainStage(nn.Sequential):
    """One U-Net level: ``depth`` conv units, no residual, no gate."""

    def __init__(
        self, in_ch: int, out_ch: int, *, depth: int, norm_layer: NormFactory, act_layer: ActFactory
    ) -> None:
        units = [
            ConvUnit(in_ch if i == 0 else out_ch, out_ch, norm_layer=norm_layer, act_layer=act_layer)
            for i in range(depth)
        ]
        super().__init__(*units)


class PlainUNet(nn.Module):
    """Sketch (+ hint map at 1/4 resolution) -> RGB in 0..1, through a plain five-level U-Net."""

    HINT_LEVEL = 2  # zero-based: the third level, at 1/4 resolution, as in the generator

    def __init__(
        self,
        widths: Sequence[int] = PLAIN_PRESETS["cpu"],
        *,
        depth: int = 3,
        norm_layer: NormFactory = nn.BatchNorm2d,
        act_layer: ActFactory = _default_act,
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 5:
            raise ValueError(f"the plain U-Net has 5 levels, got {len(widths)} widths")
        if any(w <= 0 for w in widths):
            raise ValueError(f"widths must be positive, got {widths}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.widths = widths
        self.depth = depth
        act = act_layer

        encoders = []
        in_ch = contract.SKETCH.channels
        for level, w in enumerate(widths):
            extra = contract.HINT.channels if level == self.HINT_LEVEL else 0
            encoders.append(PlainStage(in_ch + extra, w, depth=depth, norm_layer=norm_layer, act_layer=act))
            in_ch = w
        self.encoders = nn.ModuleList(encoders)
        self.pool = nn.MaxPool2d(2)
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in reversed(range(len(widths) - 1)):
            w = widths[level]
            self.ups.append(
                nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    ConvUnit(widths[level + 1], w, norm_layer=norm_layer, act_layer=act_layer),
                )
            )
            self.decoders.append(PlainStage(2 * w, w, depth=depth, norm_layer=norm_layer, act_layer=act))
        self.head = nn.Conv2d(widths[0], contract.COLOR.channels, 1)

    def forward(self, sketch: torch.Tensor, hint: torch.Tensor) -> torch.Tensor:
        """``sketch`` [N,1,H,W], ``hint`` [N,4,H/4,W/4] -> ``color`` [N,3,H,W] in 0..1."""
        skips: list[torch.Tensor] = []
        x = sketch
        for level, encoder in enumerate(self.encoders):
            if level > 0:
                x = self.pool(x)
            if level == self.HINT_LEVEL:
                x = torch.cat([x, hint], dim=1)
            x = encoder(x)
            skips.append(x)
        skips.pop()
        for up, decoder in zip(self.ups, self.decoders, strict=True):
            x = decoder(torch.cat([up(x), skips.pop()], dim=1))
        return torch.sigmoid(self.head(x))


def build_plain_unet(preset: str = "cpu", **kwargs: object) -> PlainUNet:
    """Build the plain U-Net of a named preset (``cpu`` or ``tiny``), FLOP-matched to the generator's."""
    if preset not in PLAIN_PRESETS:
        raise ValueError(f"unknown plain U-Net preset {preset!r}; choose one of {sorted(PLAIN_PRESETS)}")
    return PlainUNet(PLAIN_PRESETS[preset], **kwargs)  # type: ignore[arg-type]
