"""From the model's colors to the bytes a client receives: line overlay and encoding."""

from __future__ import annotations

import cv2
import fpng
import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]

#: Output formats -> (OpenCV extension, quality parameter or None, default quality).
_FORMATS: dict[str, tuple[str, int | None, int]] = {
    "png": (".png", None, 0),
    "jpeg": (".jpg", cv2.IMWRITE_JPEG_QUALITY, 92),
    "webp": (".webp", cv2.IMWRITE_WEBP_QUALITY, 90),
}

#: Formats :func:`encode_image` writes.
OUTPUT_FORMATS = tuple(_FORMATS)

#: PNG writers: fpng (one fixed fast deflate, 2-4x faster than libpng at 512-2048 px, files 3-23%
#: larger: docs/PERFORMANCE.md, issue 15) or OpenCV's libpng (smaller files).
PNG_ENCODERS = ("fpng", "libpng")


def overlay_lines(rgb: U8, gray: U8) -> U8:
    """Multiply gray line art [H, W] over colors [H, W, 3] (same size): lines stay crisp, paper is neutral."""
    if rgb.shape[:2] != gray.shape[:2] or rgb.ndim != 3 or gray.ndim != 2:
        raise ValueError(f"overlay needs [H, W, 3] colors and [H, W] lines, got {rgb.shape} and {gray.shape}")
    lines = cv2.merge([gray, gray, gray])
    return np.asarray(cv2.multiply(rgb, lines, scale=1.0 / 255.0), dtype=np.uint8)


def encode_image(rgb: U8, fmt: str = "png", quality: int = 0, png_encoder: str = "fpng") -> bytes:
    """RGB uint8 [H, W, 3] -> encoded bytes; ``fmt`` in png/jpeg/webp, ``quality`` 1..100 or 0 = default.

    RGBA [H, W, 4] keeps its alpha in PNG and WebP (JPEG has none: composite it first). PNG is
    written by ``png_encoder`` (one of :data:`PNG_ENCODERS`); both are lossless.
    """
    if fmt not in _FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; choose one of {OUTPUT_FORMATS}")
    if not 0 <= quality <= 100:
        raise ValueError(f"quality must be 0..100 (0 = default), got {quality}")
    if png_encoder not in PNG_ENCODERS:
        raise ValueError(f"unknown PNG encoder {png_encoder!r}; choose one of {PNG_ENCODERS}")
    ext, param, default = _FORMATS[fmt]
    params = [] if param is None else [param, quality or default]
    rgba = rgb.ndim == 3 and rgb.shape[2] == 4
    if rgba and fmt == "jpeg":
        raise ValueError("JPEG has no alpha channel; composite the image on paper first")
    if fmt == "png" and png_encoder == "fpng" and rgb.ndim == 3 and rgb.shape[2] in (3, 4):
        # fpng takes RGB(A) as it is: no channel swap either.
        return bytes(fpng.from_ndarray(np.ascontiguousarray(rgb)))
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGBA2BGRA if rgba else cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {rgb.shape} image as {fmt}")
    return buf.tobytes()


def decode_rgb(data: bytes) -> U8:
    """Encoded image bytes (as :func:`encode_image` makes) -> RGB uint8 [H, W, 3]."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("not a decodable image")
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
