"""Read an encoded image's format and declared size from its first bytes, without decoding it.

A 100 kB PNG can declare 100000 x 100000 pixels; decoding it would allocate 30 GB. The gateway
checks the declared size against its pixel limit first, so only this small parser ever sees a
hostile header. Formats: PNG, JPEG, WebP, BMP, TIFF and GIF (what OpenCV decodes and users send).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from colorizer.imaging.errors import ImageInputError

#: Formats this module can size; anything else is refused before OpenCV sees it.
SUPPORTED_FORMATS = ("png", "jpeg", "webp", "bmp", "tiff", "gif")

# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...): they carry the size.
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# Markers without a length field.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


@dataclass(frozen=True)
class ImageHeader:
    """What an encoded image says about itself before decoding."""

    format: str
    width: int
    height: int


class _Truncated(Exception):
    """The header ends before the size field (internal)."""


def _unpack(fmt: str, data: bytes, offset: int) -> tuple[int, ...]:
    if offset + struct.calcsize(fmt) > len(data):
        raise _Truncated
    return struct.unpack_from(fmt, data, offset)


def read_header(data: bytes, field: str = "sketch") -> ImageHeader:
    """Format and declared width/height of the encoded image ``data``.

    Raises :class:`ImageInputError` naming ``field`` when the bytes are empty, of an unknown
    format, or too short or malformed to hold a size.
    """
    if not data:
        raise ImageInputError(f"{field}: empty (0 bytes)")
    fmt = _sniff(data)
    if fmt is None:
        raise ImageInputError(
            f"{field}: not a decodable image (unknown format; send one of "
            f"{', '.join(f.upper() for f in SUPPORTED_FORMATS)})"
        )
    try:
        width, height = _SIZERS[fmt](data)
    except _Truncated:
        raise ImageInputError(f"{field}: truncated {fmt.upper()} header") from None
    return ImageHeader(fmt, width, height)


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"BM"):
        return "bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def _png_size(data: bytes) -> tuple[int, int]:
    # The first chunk must be IHDR: length(4) type(4) width(4) height(4), big-endian.
    (_, ctype, width, height) = _unpack(">I4sII", data, 8)
    if ctype != b"IHDR":
        raise _Truncated
    return width, height


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    while True:
        (byte,) = _unpack("B", data, pos)
        if byte != 0xFF:
            raise _Truncated
        # Any number of 0xFF fill bytes may precede a marker.
        while byte == 0xFF:
            pos += 1
            (byte,) = _unpack("B", data, pos)
        marker = byte
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            raise _Truncated
        (length,) = _unpack(">H", data, pos)
        if marker in _JPEG_SOF:
            height, width = _unpack(">HH", data, pos + 3)
            return width, height
        if length < 2:
            raise _Truncated
        pos += length


def _webp_size(data: bytes) -> tuple[int, int]:
    (chunk,) = _unpack("4s", data, 12)
    if chunk == b"VP8X":
        # 24-bit little-endian (canvas width - 1) and (canvas height - 1).
        b = _unpack("6B", data, 24)
        return 1 + (b[0] | b[1] << 8 | b[2] << 16), 1 + (b[3] | b[4] << 8 | b[5] << 16)
    if chunk == b"VP8L":
        (signature, bits) = _unpack("<BI", data, 20)
        if signature != 0x2F:
            raise _Truncated
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 ":
        # 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height.
        (start, w, h) = _unpack("<3sHH", data, 23)
        if start != b"\x9d\x01\x2a":
            raise _Truncated
        return w & 0x3FFF, h & 0x3FFF
    raise _Truncated


def _bmp_size(data: bytes) -> tuple[int, int]:
    (dib_size,) = _unpack("<I", data, 14)
    if dib_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        w, h = _unpack("<HH", data, 18)
    else:
        w, h = _unpack("<ii", data, 18)
    # A negative height means a top-down bitmap; the size is its magnitude.
    return abs(w), abs(h)


def _tiff_size(data: bytes) -> tuple[int, int]:
    end = "<" if data[:2] == b"II" else ">"
    (ifd,) = _unpack(end + "I", data, 4)
    (count,) = _unpack(end + "H", data, ifd)
    size: dict[int, int] = {}
    for i in range(count):
        tag, typ, _n = _unpack(end + "HHI", data, ifd + 2 + 12 * i)
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT or LONG
            value_fmt = end + ("H" if typ == 3 else "I")
            (size[tag],) = _unpack(value_fmt, data, ifd + 2 + 12 * i + 8)
    if 256 not in size or 257 not in size:
        raise _Truncated
    return size[256], size[257]


def _gif_size(data: bytes) -> tuple[int, int]:
    w, h = _unpack("<HH", data, 6)
    return w, h


_SIZERS = {
    "png": _png_size,
    "jpeg": _jpeg_size,
    "webp": _webp_size,
    "bmp": _bmp_size,
    "tiff": _tiff_size,
    "gif": _gif_size,
}
