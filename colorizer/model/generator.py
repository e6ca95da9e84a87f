"""The colorization generator: a residual U-Net in the style of SGRU (Liu et al. 2018).

Blocks first (conv unit, concatenating residual block, swish gate), then the generator, then
named presets. Differences from a plain U-Net, as the paper describes them:

* residual blocks output ``concat(F(x), x)`` instead of ``F(x) + x``;
* every skip connection passes through a swish layer ``S(x) = x * sigmoid(conv3x3(x))``;
* the 4-channel hint map (1/4 resolution) is concatenated into the third level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from colorizer import contract

NormFactory = Callable[[int], nn.Module]
ActFactory = Callable[[], nn.Module]


def _default_act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class ConvUnit(nn.Sequential):
    """conv (3x3 by default) -> normalization -> LeakyReLU(0.2)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        *,
        kernel_size: int = 3,
        norm_layer: NormFactory = nn.BatchNorm2d,
        act_layer: ActFactory = _default_act,
    ) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=False),
            norm_layer(out_ch),
            act_layer(),
        )


class ConcatResidualBlock(nn.Module):
    """Residual block whose output is ``concat(F(x), x)`` (2x the channels), not ``F(x) + x``.

    Concatenating keeps the input intact next to the residual, which SGRU found to pass
    information through the network better than summing.
    """

    def __init__(self, channels: int, *, norm_layer: NormFactory, act_layer: ActFactory) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvUnit(channels, channels, norm_layer=norm_layer, act_layer=act_layer),
            ConvUnit(channels, channels, norm_layer=norm_layer, act_layer=act_layer),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.body(x), x], dim=1)


class SwishGate(nn.Module):
    """SGRU's swish layer on a skip connection: ``x * sigmoid(conv3x3(x))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.conv(x))


class Stage(nn.Module):
    """One U-Net level: conv unit, concatenating residual block, 1x1 fuse back to ``out_ch``."""

    def __init__(self, in_ch: int, out_ch: int, *, norm_layer: NormFactory, act_layer: ActFactory) -> None:
        super().__init__()
        self.entry = ConvUnit(in_ch, out_ch, norm_layer=norm_layer, act_layer=act_layer)
        self.residual = ConcatResidualBlock(out_ch, norm_layer=norm_layer, act_layer=act_layer)
        self.fuse = ConvUnit(2 * out_ch, out_ch, kernel_size=1, norm_layer=norm_layer, act_layer=act_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.residual(self.entry(x)))


class Generator(nn.Module):
    """Sketch (+ hint map at 1/4 resolution) -> RGB image in 0..1.

    Five levels (strides 1, 2, 4, 8, 16); the hint enters the third level. Fully convolutional:
    any height and width that are multiples of :data:`colorizer.contract.STRIDE`.
    """

    HINT_LEVEL = 2  # zero-based: the third level, at 1/4 resolution

    def __init__(
        self,
        widths: Sequence[int] = (96, 192, 288, 384, 480),
        *,
        norm_layer: NormFactory = nn.BatchNorm2d,
        act_layer: ActFactory = _default_act,
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 5:
            raise ValueError(f"the generator has 5 levels, got {len(widths)} widths")
        if any(w <= 0 for w in widths):
            raise ValueError(f"widths must be positive, got {widths}")
        self.widths = widths
        hint_ch = contract.HINT.channels

        encoders = []
        in_ch = contract.SKETCH.channels
        for level, w in enumerate(widths):
            extra = hint_ch if level == self.HINT_LEVEL else 0
            encoders.append(Stage(in_ch + extra, w, norm_layer=norm_layer, act_layer=act_layer))
            in_ch = w
        self.encoders = nn.ModuleList(encoders)
        self.pool = nn.MaxPool2d(2)

        # Decoder levels 3..0: upsample the deeper features, gate the skip, merge.
        self.ups = nn.ModuleList()
        self.gates = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in reversed(range(len(widths) - 1)):
            w = widths[level]
            up_conv = ConvUnit(widths[level + 1], w, norm_layer=norm_layer, act_layer=act_layer)
            self.ups.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), up_conv))
            self.gates.append(SwishGate(w))
            self.decoders.append(Stage(2 * w, w, norm_layer=norm_layer, act_layer=act_layer))
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
        skips.pop()  # the bottleneck output is x itself
        for up, gate, decoder in zip(self.ups, self.gates, self.decoders, strict=True):
            skip = skips.pop()
            x = decoder(torch.cat([up(x), gate(skip)], dim=1))
        return torch.sigmoid(self.head(x))

    def check_input(self, sketch: torch.Tensor, hint: torch.Tensor) -> None:
        """Raise ``ValueError`` with a clear message when the inputs break the tensor contract."""
        if sketch.ndim != 4 or sketch.shape[1] != contract.SKETCH.channels:
            raise ValueError(f"sketch must be [N,1,H,W], got {tuple(sketch.shape)}")
        n, _, h, w = sketch.shape
        contract.check_size(h, w)
        expected = (n, contract.HINT.channels, h // contract.HINT_SCALE, w // contract.HINT_SCALE)
        if tuple(hint.shape) != expected:
            raise ValueError(f"hint must be {expected} for a {h}x{w} sketch, got {tuple(hint.shape)}")


@dataclass(frozen=True)
class Preset:
    """A named generator configuration."""

    name: str
    widths: tuple[int, int, int, int, int]
    doc: str


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("base", (96, 192, 288, 384, 480), "SGRU's widths, for GPU deployments"),
        Preset("cpu", (16, 32, 64, 96, 128), "the shipped demo model, trainable and servable on CPUs"),
        Preset("tiny", (8, 16, 24, 32, 40), "for tests"),
    )
}


def build_generator(preset: str = "cpu", **kwargs: object) -> Generator:
    """Build the generator of a named preset (``base``, ``cpu`` or ``tiny``)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    return Generator(PRESETS[preset].widths, **kwargs)  # type: ignore[arg-type]


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def conv_gflops(model: nn.Module, height: int = 256, width: int = 256) -> float:
    """Multiply-adds x 2 of every convolution for one image of ``height`` x ``width``, in GFLOP."""
    total = 0

    def hook(module: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(module, nn.Conv2d)
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total += 2 * k * out.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            s = contract.HINT_SCALE
            model(torch.zeros(1, 1, height, width), torch.zeros(1, 4, height // s, width // s))
        model.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return total / 1e9
