"""VGG19 feature extractor for the perceptual loss, defined here (no torchvision dependency).

The layer layout matches torchvision's ``vgg19().features`` so a state dict saved from it
(``features.N.weight`` keys) loads as is. Weights only ever come from a local file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

# torchvision's "E" configuration; "M" is a max-pool.
_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)  # fmt: skip

#: Index in ``features`` of the ReLU after each named conv (torchvision layout).
LAYER_INDEX: dict[str, int] = {
    "conv1_2": 3, "conv2_2": 8, "conv3_2": 13, "conv4_2": 22, "conv5_2": 31,
}  # fmt: skip

#: SGRU's perceptual layers and weights; "pixels" is the image itself.
SGRU_WEIGHTS: dict[str, float] = {
    "pixels": 0.88, "conv1_2": 0.79, "conv2_2": 0.63, "conv3_2": 0.51, "conv4_2": 0.39, "conv5_2": 1.07,
}  # fmt: skip

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def _features() -> nn.Sequential:
    layers: list[nn.Module] = []
    prev = 3
    for v in _CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            assert isinstance(v, int)
            layers += [nn.Conv2d(prev, v, 3, padding=1), nn.ReLU(inplace=False)]
            prev = v
    return nn.Sequential(*layers)


class VGG19Features(nn.Module):
    """Frozen VGG19 returning the activations of the requested layers for an RGB 0..1 image."""

    def __init__(self, layers: Sequence[str] = tuple(LAYER_INDEX)) -> None:
        super().__init__()
        unknown = set(layers) - set(LAYER_INDEX)
        if unknown:
            raise ValueError(f"unknown VGG19 layers {sorted(unknown)}; known: {sorted(LAYER_INDEX)}")
        self.layers = tuple(layers)
        last = max(LAYER_INDEX[name] for name in self.layers)
        self.features = _features()[: last + 1]
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_file(cls, path: str | Path, layers: Sequence[str] = tuple(LAYER_INDEX)) -> VGG19Features:
        """Load torchvision-layout VGG19 weights (``features.*`` keys) from a local file."""
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        model = cls(layers)
        feats = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        own = model.features.state_dict()
        missing = [k for k in own if k not in feats]
        if missing:
            raise ValueError(f"{path}: not a torchvision VGG19 state dict (missing {missing[:3]})")
        model.features.load_state_dict({k: feats[k] for k in own})
        return model

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        x = (image - mean) / std
        wanted = {LAYER_INDEX[n]: n for n in self.layers}
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.features.children()):
            x = layer(x)
            if i in wanted:
                out[wanted[i]] = x
        return out
