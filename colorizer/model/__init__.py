"""Model code: generator (SGRU-style residual U-Net), discriminator, VGG19 features."""

from colorizer.model.discriminator import Discriminator
from colorizer.model.generator import PRESETS, Generator, build_generator, conv_gflops, count_params

__all__ = ["PRESETS", "Discriminator", "Generator", "build_generator", "conv_gflops", "count_params"]
