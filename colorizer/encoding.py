"""Encoding of images into the model's tensors and back (numpy only; no torch).

Training and the gateway both call these functions, so a hint painted by a user and a hint
sampled during training reach the network in exactly the same form.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from colorizer import contract

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


def encode_sketch(gray: U8) -> F32:
    """Gray line art [H, W] uint8 (0 ink, 255 paper) -> ``sketch`` tensor [1, H, W] in 0..1."""
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"sketch must be a 2-D uint8 array, got {gray.dtype} {gray.shape}")
    return (gray.astype(np.float32) * np.float32(1.0 / 255.0))[None]


def encode_hint(rgb_small: U8, mask: npt.NDArray[np.bool_]) -> F32:
    """Hint colors [h, w, 3] uint8 RGB and mask [h, w] bool -> ``hint`` tensor [4, h, w].

    ``rgb_small`` and ``mask`` are already at hint resolution (1/4 of the sketch). Channels 0..2
    hold the color times the mask, channel 3 the mask, as the paper builds its hint map.
    """
    if rgb_small.ndim != 3 or rgb_small.shape[2] != 3 or rgb_small.dtype != np.uint8:
        raise ValueError(f"hint colors must be [h, w, 3] uint8, got {rgb_small.dtype} {rgb_small.shape}")
    if mask.shape != rgb_small.shape[:2]:
        raise ValueError(f"hint mask {mask.shape} does not match colors {rgb_small.shape[:2]}")
    m = mask.astype(np.float32)
    out = np.empty((contract.HINT.channels, *mask.shape), dtype=np.float32)
    out[:3] = np.moveaxis(rgb_small, 2, 0).astype(np.float32) * np.float32(1.0 / 255.0) * m
    out[3] = m
    return out


def empty_hint(height: int, width: int) -> F32:
    """An all-zero ``hint`` tensor for a sketch of ``height`` x ``width`` (no hints given)."""
    contract.check_size(height, width)
    s = contract.HINT_SCALE
    return np.zeros((contract.HINT.channels, height // s, width // s), dtype=np.float32)


def decode_color(color: F32) -> U8:
    """``color`` tensor [3, H, W] (0..1, RGB) -> uint8 image [H, W, 3] RGB."""
    if color.ndim != 3 or color.shape[0] != contract.COLOR.channels:
        raise ValueError(f"color must be [3, H, W], got {color.shape}")
    scaled = np.clip(color, 0.0, 1.0) * np.float32(255.0) + np.float32(0.5)
    return np.ascontiguousarray(np.moveaxis(scaled.astype(np.uint8), 0, 2))
