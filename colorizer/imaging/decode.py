"""Safe decoding of user images: limits first, then OpenCV, then one canonical 8-bit form.

Sketches become gray uint8 (0 ink, 255 paper); hint images become RGBA uint8. 16-bit and float
images are scaled to 8 bits, and transparent pixels of a sketch count as white paper.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from colorizer.imaging.errors import ImageInputError, LimitExceededError
from colorizer.imaging.header import read_header
from colorizer.imaging.limits import InputLimits

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


def decode_sketch(data: bytes, limits: InputLimits, *, extract: bool = False) -> U8:
    """Encoded sketch bytes -> gray uint8 [H, W], 0 ink, 255 paper.

    Checks the byte size and the header's declared pixel count before decoding. Alpha is
    composited on white. With ``extract=True`` the image is treated as a color illustration and
    its lines are extracted with :func:`colorizer.lines.extract_lines`. EXIF orientation is not
    applied: hint coordinates refer to the stored pixel grid, as the decoder returns it.
    """
    unit = _decode(data, "sketch", limits.max_sketch_bytes, "max_sketch_bytes", limits)
    rgb = _to_unit_rgb_on_white(unit)
    rgb8 = _to_u8(rgb)
    if extract:
        from colorizer.lines import extract_lines  # numpy + OpenCV only, like this module

        return extract_lines(rgb8)
    return np.asarray(cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def decode_hint_image(data: bytes, orig_hw: tuple[int, int], limits: InputLimits) -> U8:
    """Encoded hint layer -> RGBA uint8 [H, W, 4] (RGB order); alpha > 0 marks hinted pixels.

    The layer must have an alpha channel and the same size as the sketch (``orig_hw``).
    """
    unit = _decode(
        data, "hint_image", limits.max_hint_image_bytes, "max_hint_image_bytes", limits, expect_hw=orig_hw
    )
    if unit.shape[2] != 4:
        raise ImageInputError(
            "hint_image: has no alpha channel; paint hints on a transparent layer "
            "(pixels with alpha > 0 are hints)"
        )
    rgba = _to_u8(unit)
    return np.ascontiguousarray(rgba[:, :, [2, 1, 0, 3]])


def _decode(
    data: bytes,
    field: str,
    max_bytes: int,
    limit_name: str,
    limits: InputLimits,
    *,
    expect_hw: tuple[int, int] | None = None,
) -> F32:
    """Check limits, decode, and return float32 [H, W, C] in 0..1 with C in (1, 3, 4), BGR(A)."""
    if len(data) > max_bytes:
        raise LimitExceededError(f"{field}: {len(data)} bytes exceed the limit of {max_bytes} ({limit_name})")
    header = read_header(data, field)
    if header.width <= 0 or header.height <= 0:
        raise ImageInputError(f"{field}: image has zero size ({header.width}x{header.height})")
    if expect_hw is not None and (header.height, header.width) != tuple(expect_hw):
        raise ImageInputError(
            f"{field}: is {header.width}x{header.height} but the sketch is "
            f"{expect_hw[1]}x{expect_hw[0]} (width x height); they must match"
        )
    pixels = header.width * header.height
    if pixels > limits.max_sketch_pixels:
        raise LimitExceededError(
            f"{field}: {header.width}x{header.height} = {pixels} pixels exceed the limit of "
            f"{limits.max_sketch_pixels} (max_sketch_pixels)"
        )
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        img = None
    if img is None or img.size == 0:
        kind = header.format.upper()
        raise ImageInputError(f"{field}: not a decodable image (corrupt or truncated {kind})")
    if img.shape[:2] != (header.height, header.width):
        # The header sniffer and the decoder disagree: trust neither with the limit check.
        raise ImageInputError(
            f"{field}: declared size {header.width}x{header.height} does not match the decoded "
            f"{img.shape[1]}x{img.shape[0]}"
        )
    return _to_unit(img, field)


def _to_unit(img: np.ndarray, field: str) -> F32:
    """Any OpenCV-decoded array -> float32 [H, W, C] in 0..1."""
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] == 2:  # gray + alpha (some TIFFs): make it BGRA
        img = np.concatenate([img[:, :, :1]] * 3 + [img[:, :, 1:]], axis=2)
    if img.shape[2] not in (1, 3, 4):
        raise ImageInputError(f"{field}: unsupported channel count {img.shape[2]}")
    if img.dtype == np.uint8:
        scale = 1.0 / 255.0
    elif img.dtype == np.uint16:
        scale = 1.0 / 65535.0
    elif img.dtype in (np.float32, np.float64):
        return np.clip(img.astype(np.float32), 0.0, 1.0)
    else:
        raise ImageInputError(f"{field}: unsupported sample type {img.dtype} (use 8 or 16 bits)")
    return img.astype(np.float32) * np.float32(scale)


def _to_unit_rgb_on_white(unit: F32) -> F32:
    """float [H, W, 1|3|4] BGR(A) -> float [H, W, 3] RGB with alpha composited on white paper."""
    if unit.shape[2] == 1:
        color = np.repeat(unit, 3, axis=2)
    else:
        color = unit[:, :, 2::-1] if unit.shape[2] == 3 else unit[:, :, [2, 1, 0]]
    if unit.shape[2] == 4:
        alpha = unit[:, :, 3:4]
        color = color * alpha + (np.float32(1.0) - alpha)
    return np.ascontiguousarray(color, dtype=np.float32)


def _to_u8(unit: F32) -> U8:
    return (unit * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
