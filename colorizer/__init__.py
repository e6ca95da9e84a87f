"""Anime line-sketch colorization from sparse color hints (core: contract, encoding, model, data, training)."""

__version__ = "0.1.0"
