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


def decode_sketch(data: bytes, limits: InputLimits, *, extract: bool = False) -> U8:
    """Encoded sketch bytes -> gray uint8 [H, W], 0 ink, 255 paper.

    Checks the byte size and the header's declared pixel count before decoding. Alpha is
    composited on white. With ``extract=True`` the image is treated as a color illustration and
    its lines are extracted with :func:`colorizer.lines.extract_lines`. EXIF orientation is not
    applied: hint coordinates refer to the stored pixel grid, as the decoder returns it.
    """
    return decode_sketch_alpha(data, limits, extract=extract)[0]


def decode_sketch_alpha(data: bytes, limits: InputLimits, *, extract: bool = False) -> tuple[U8, U8 | None]:
    """:func:`decode_sketch`, and the sketch's alpha [H, W] uint8 (None when it is opaque).

    One decode serves both: the gray sketch (alpha composited on white) goes to the model, the
    alpha to the output, which keeps a transparent background (:mod:`colorizer.imaging.layers`).
    """
    img = _decode(data, "sketch", limits.max_sketch_bytes, "max_sketch_bytes", limits)
    alpha = np.ascontiguousarray(img[:, :, 3]) if img.shape[2] == 4 else None
    if alpha is not None and int(alpha.min()) == 255:
        alpha = None  # an alpha channel that hides nothing: the output stays RGB, as before
    return _sketch_gray(img, extract), alpha


def _sketch_gray(img: U8, extract: bool) -> U8:
    if img.shape[2] == 1 and not extract:
        return np.ascontiguousarray(img[:, :, 0])
    if extract:
        from colorizer.lines import extract_lines  # numpy + OpenCV only, like this module

        return extract_lines(_rgb_on_white(img))
    # Straight from BGR: the same values as RGB -> gray after the swap, one pass fewer.
    bgr = img if img.shape[2] == 3 else over_white(img)
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def decode_hint_image(data: bytes, orig_hw: tuple[int, int], limits: InputLimits) -> U8:
    """Encoded hint layer -> RGBA uint8 [H, W, 4] (RGB order); alpha > 0 marks hinted pixels.

    The layer must have an alpha channel and the same size as the sketch (``orig_hw``).
    """
    img = _decode(
        data, "hint_image", limits.max_hint_image_bytes, "max_hint_image_bytes", limits, expect_hw=orig_hw
    )
    if img.shape[2] != 4:
        raise ImageInputError(
            "hint_image: has no alpha channel; paint hints on a transparent layer "
            "(pixels with alpha > 0 are hints)"
        )
    return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA), dtype=np.uint8)


def _decode(
    data: bytes,
    field: str,
    max_bytes: int,
    limit_name: str,
    limits: InputLimits,
    *,
    expect_hw: tuple[int, int] | None = None,
) -> U8:
    """Check limits, decode, and return uint8 [H, W, C] with C in (1, 3, 4), BGR(A)."""
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
    return _to_u8_channels(img, field)


def _to_u8_channels(img: np.ndarray, field: str) -> U8:
    """Any OpenCV-decoded array -> uint8 [H, W, C] (C in 1, 3, 4), converted to 8 bits first.

    Going to 8 bits before any other step keeps the working memory near one byte per sample:
    a 16-bit RGBA image at the pixel limit would otherwise need several float copies (measured:
    ~900 MB for 4096x4096), enough to get a gateway pod OOM-killed by one request.
    """
    if img.ndim == 2:
        img = img[:, :, None]
    if img.dtype == np.uint8:
        pass
    elif img.dtype == np.uint16:
        img = cv2.convertScaleAbs(img, alpha=1.0 / 257.0)  # rounds and saturates, 1 byte/sample out
    elif img.dtype in (np.float32, np.float64):
        img = np.nan_to_num(img.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=0.0)
        img = cv2.convertScaleAbs(np.clip(img, 0.0, 1.0, out=img), alpha=255.0)
    else:
        raise ImageInputError(f"{field}: unsupported sample type {img.dtype} (use 8 or 16 bits)")
    if img.ndim == 2:  # cv2 drops a trailing axis of length 1
        img = img[:, :, None]
    if img.shape[2] == 2:  # gray + alpha (some TIFFs): make it BGRA
        img = cv2.merge([img[:, :, 0], img[:, :, 0], img[:, :, 0], img[:, :, 1]])
    if img.shape[2] not in (1, 3, 4):
        raise ImageInputError(f"{field}: unsupported channel count {img.shape[2]}")
    return np.asarray(img, dtype=np.uint8)


def _rgb_on_white(img: U8) -> U8:
    """uint8 [H, W, 1|3|4] BGR(A) -> uint8 [H, W, 3] RGB, alpha composited on white paper.

    Compositing is ``c * a / 255 + (255 - a)``, rounded: the same values as in floating point.
    """
    if img.shape[2] == 1:
        return np.asarray(cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB), dtype=np.uint8)
    if img.shape[2] == 3:
        return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), dtype=np.uint8)
    return np.asarray(cv2.cvtColor(over_white(img), cv2.COLOR_BGR2RGB), dtype=np.uint8)


def over_white(img: U8) -> U8:
    """uint8 [H, W, 4] with alpha last -> [H, W, 3], composited on white paper, channel order kept.

    Compositing is ``c * a / 255 + (255 - a)``, rounded. The one implementation of "a transparent
    drawing on paper": the gateway's decoding, the data stage, training and the evaluation use it.
    """
    if img.ndim != 3 or img.shape[2] != 4 or img.dtype != np.uint8:
        raise ValueError(f"over_white needs uint8 [H, W, 4], got {img.dtype} {img.shape}")
    color = np.ascontiguousarray(img[:, :, :3])
    alpha = cv2.cvtColor(np.ascontiguousarray(img[:, :, 3]), cv2.COLOR_GRAY2RGB)
    scaled = cv2.multiply(color, alpha, scale=1.0 / 255.0)
    return np.asarray(cv2.add(scaled, cv2.bitwise_not(alpha)), dtype=np.uint8)
