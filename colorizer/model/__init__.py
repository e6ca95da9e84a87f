"""Model code: generator (SGRU-style residual U-Net), discriminator, perceptual-loss feature extractors."""

from colorizer.model.discriminator import Discriminator
from colorizer.model.features import EXTRACTORS, FeatureExtractor, build_extractor
from colorizer.model.generator import PRESETS, Generator, build_generator, conv_gflops, count_params
from colorizer.model.plain_unet import PlainUNet, build_plain_unet

#: Architectures the trainer can build: the paper's generator and the plain U-Net baseline.
ARCHS = ("sgru", "plain_unet")


def build_model(arch: str = "sgru", preset: str = "cpu") -> Generator | PlainUNet:
    """The generator of ``arch`` (``sgru`` or ``plain_unet``) at a named preset."""
    if arch == "sgru":
        return build_generator(preset)
    if arch == "plain_unet":
        return build_plain_unet(preset)
    raise ValueError(f"unknown arch {arch!r}; choose one of {ARCHS}")


__all__ = [
    "ARCHS",
    "EXTRACTORS",
    "PRESETS",
    "Discriminator",
    "FeatureExtractor",
    "Generator",
    "PlainUNet",
    "build_extractor",
    "build_generator",
    "build_model",
    "build_plain_unet",
    "conv_gflops",
    "count_params",
]
