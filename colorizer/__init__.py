"""Anime line-sketch colorization from sparse color hints.

The core package: tensor contract, encoding, imaging, model, data and training.
"""

__version__ = "0.1.0"
