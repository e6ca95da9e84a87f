"""Input limits checked before any expensive work, so one request cannot exhaust the server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputLimits:
    """Upper bounds on what one request may carry.

    The gateway builds this from its settings; training and the CLIs use the defaults.
    """

    #: Largest accepted encoded sketch, in bytes.
    max_sketch_bytes: int = 20 * 2**20
    #: Largest accepted sketch area (width x height), read from the header before decoding.
    max_sketch_pixels: int = 4096 * 4096
    #: Most point hints in one request.
    max_points: int = 1024
    #: Most stroke hints in one request.
    max_strokes: int = 256
    #: Most points in one stroke's polyline.
    max_stroke_points: int = 4096
    #: Largest accepted encoded hint image, in bytes.
    max_hint_image_bytes: int = 20 * 2**20
    #: Largest point radius (and half the largest stroke width), in original-sketch pixels.
    max_radius: float = 512.0
