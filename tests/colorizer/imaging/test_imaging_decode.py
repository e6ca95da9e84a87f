"""Decoding user images: formats, bit depths, alpha, limits and broken input."""

from __future__ import annotations

import struct
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest

from colorizer.imaging import (
    ImageInputError,
    InputLimits,
    LimitExceededError,
    decode_hint_image,
    decode_sketch,
)
from colorizer.imaging.header import read_header

LIMITS = InputLimits()


def encode(img: np.ndarray, ext: str = ".png") -> bytes:
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def crafted_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` (the data is a few bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


@pytest.fixture
def gray() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(37, 53), dtype=np.uint8)


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tiff", ".webp"])
def test_lossless_gray_round_trips_exactly(gray: np.ndarray, ext: str) -> None:
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if ext == ".webp" else []  # >100 = lossless WebP
    ok, buf = cv2.imencode(ext, gray, params)
    assert ok
    assert read_header(buf.tobytes()).width == 53
    np.testing.assert_array_equal(decode_sketch(buf.tobytes(), LIMITS), gray)


def test_jpeg_decodes_to_gray_of_the_right_size(gray: np.ndarray) -> None:
    out = decode_sketch(encode(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), ".jpg"), LIMITS)
    assert out.shape == (37, 53) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - gray).mean() < 30  # lossy, but the same picture


def test_gif_is_sized_and_decoded() -> None:
    img = np.full((9, 14, 3), 255, np.uint8)
    img[2:5, 3:8] = 0
    data = encode(img, ".gif")
    assert (read_header(data).width, read_header(data).height) == (14, 9)
    out = decode_sketch(data, LIMITS)
    assert out.shape == (9, 14) and out[3, 4] < 20 and out[0, 0] > 235


def test_sixteen_bit_png_is_scaled_to_eight_bits() -> None:
    img16 = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    np.testing.assert_array_equal(decode_sketch(encode(img16), LIMITS), [[0, 100, 255]])


def test_color_is_converted_to_luma() -> None:
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[0, 0] = (255, 0, 0)  # pure blue in BGR: luma 0.114
    bgr[1, 1] = (255, 255, 255)
    out = decode_sketch(encode(bgr), LIMITS)
    assert abs(int(out[0, 0]) - 29) <= 1 and out[1, 1] == 255 and out[0, 1] == 0


def test_alpha_is_composited_on_white() -> None:
    bgra = np.zeros((1, 3, 4), np.uint8)  # black ink, alpha 0 / 128 / 255
    bgra[0, :, 3] = (0, 128, 255)
    out = decode_sketch(encode(bgra), LIMITS)
    assert out[0, 0] == 255  # transparent = paper
    assert abs(int(out[0, 1]) - 127) <= 1
    assert out[0, 2] == 0


def test_sixteen_bit_alpha_is_composited_on_white() -> None:
    bgra = np.zeros((1, 2, 4), np.uint16)
    bgra[0, 1, 3] = 65535
    np.testing.assert_array_equal(decode_sketch(encode(bgra), LIMITS), [[255, 0]])


def test_extract_turns_a_flat_color_picture_into_lines() -> None:
    img = np.full((40, 40, 3), (40, 160, 220), np.uint8)
    img[10:30, 10:30] = (200, 60, 60)
    plain = decode_sketch(encode(img), LIMITS)
    lines = decode_sketch(encode(img), LIMITS, extract=True)
    assert plain[20, 20] < 200  # without extraction a colored fill reads as gray ink
    assert lines[20, 20] == 255 and lines[2, 2] == 255  # flat fills become paper
    assert lines[9:11, 10:30].min() < 100  # the border between the fills becomes a line


def test_crafted_huge_header_is_refused_before_decoding() -> None:
    data = crafted_png(100_000, 100_000)
    assert len(data) < 200
    tracemalloc.start()
    try:
        with pytest.raises(
            LimitExceededError, match=r"100000x100000 = 10000000000 pixels exceed .* \(max_sketch_pixels\)"
        ):
            decode_sketch(data, LIMITS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_byte_limit_is_checked_first() -> None:
    with pytest.raises(
        LimitExceededError, match=r"sketch: 101 bytes exceed the limit of 100 \(max_sketch_bytes\)"
    ):
        decode_sketch(b"x" * 101, InputLimits(max_sketch_bytes=100))


def test_pixel_limit_names_the_limit(gray: np.ndarray) -> None:
    with pytest.raises(LimitExceededError, match="53x37 = 1961 pixels exceed the limit of 1000"):
        decode_sketch(encode(gray), InputLimits(max_sketch_pixels=1000))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "sketch: empty"),
        (b"hello, this is not an image at all", r"sketch: not a decodable image \(unknown format"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "sketch: truncated PNG header"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "sketch: truncated JPEG header"),
        (crafted_png(0, 10), r"sketch: image has zero size \(0x10\)"),
        (crafted_png(10, 10), r"sketch: not a decodable image \(corrupt or truncated PNG\)"),
    ],
)
def test_broken_bytes_give_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(ImageInputError, match=message):
        decode_sketch(data, LIMITS)


def test_truncated_png_gives_a_clear_message(gray: np.ndarray) -> None:
    data = encode(gray)
    with pytest.raises(ImageInputError, match="not a decodable image"):
        decode_sketch(data[: len(data) // 2], LIMITS)


def test_hint_image_keeps_rgba_in_rgb_order() -> None:
    bgra = np.zeros((3, 4, 4), np.uint8)
    bgra[1, 2] = (10, 20, 30, 255)
    rgba = decode_hint_image(encode(bgra), (3, 4), LIMITS)
    assert rgba.shape == (3, 4, 4)
    assert tuple(rgba[1, 2]) == (30, 20, 10, 255) and rgba[0, 0, 3] == 0


def test_hint_image_must_match_the_sketch_and_have_alpha() -> None:
    with pytest.raises(ImageInputError, match=r"hint_image: is 4x3 but the sketch is 5x3"):
        decode_hint_image(encode(np.zeros((3, 4, 4), np.uint8)), (3, 5), LIMITS)
    with pytest.raises(ImageInputError, match="hint_image: has no alpha channel"):
        decode_hint_image(encode(np.zeros((3, 4, 3), np.uint8)), (3, 4), LIMITS)
    with pytest.raises(LimitExceededError, match="max_hint_image_bytes"):
        decode_hint_image(b"x" * 11, (3, 4), InputLimits(max_hint_image_bytes=10))


@pytest.mark.parametrize(
    ("ext", "channels", "params"),
    [
        (".jpg", 3, []),
        (".jpg", 1, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        (".webp", 3, [cv2.IMWRITE_WEBP_QUALITY, 80]),  # lossy: VP8
        (".webp", 4, [cv2.IMWRITE_WEBP_QUALITY, 80]),  # alpha: VP8X
        (".bmp", 4, []),
        (".tiff", 3, []),
    ],
)
def test_header_sizes_match_the_encoder(ext: str, channels: int, params: list[int]) -> None:
    img = np.full((123, 45, channels), 200, np.uint8) if channels > 1 else np.full((123, 45), 200, np.uint8)
    ok, buf = cv2.imencode(ext, img, params)
    assert ok
    header = read_header(buf.tobytes())
    assert (header.width, header.height) == (45, 123)
    assert decode_sketch(buf.tobytes(), LIMITS).shape == (123, 45)



def test_a_png_with_a_bad_crc_gives_a_clear_message(gray: np.ndarray) -> None:
    data = bytearray(encode(gray))
    idat = data.index(b"IDAT")
    data[idat + 6] ^= 0xFF  # inside the compressed data: the chunk's CRC no longer matches
    with pytest.raises(ImageInputError, match="sketch: not a decodable image"):
        decode_sketch(bytes(data), LIMITS)


@pytest.mark.parametrize("channels", [3, 4])
def test_color_sketches_go_straight_from_bgr_to_gray(channels: int) -> None:
    rng = np.random.default_rng(channels)
    img = rng.integers(0, 256, size=(29, 31, channels), dtype=np.uint8)
    if channels == 4:
        img[..., 3] = 255  # opaque: the gray is the plain luma
    ref = cv2.cvtColor(cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB), cv2.COLOR_RGB2GRAY)
    np.testing.assert_array_equal(decode_sketch(encode(img), LIMITS), ref)
