"""Sketch normalization and hint-map building, shared by training and serving (numpy + OpenCV only).

Decode user images safely (:func:`decode_sketch`, :func:`decode_hint_image`), fit a sketch onto
the model's square canvas and back (:func:`fit_sketch`, :func:`restore_size`), turn hints given in
original-image coordinates into the model's hint tensor (:func:`build_hint_map`), and finish the
output (:func:`guided_restore` / :func:`guided_upsample` to the full size, :func:`overlay_lines`,
flat fills with :func:`flatten_regions` and :func:`hint_layer`, :func:`encode_image`; the kept alpha in
:mod:`~colorizer.imaging.alpha`, layered PSD/zip files in :mod:`~colorizer.imaging.layers`, which
alone also needs psd-tools). Bad input raises
:class:`ImageInputError` whose message names the field and the problem.
"""

from colorizer.imaging.canvas import Canvas, fit_sketch, restore_size
from colorizer.imaging.decode import decode_hint_image, decode_sketch, decode_sketch_alpha, over_white
from colorizer.imaging.errors import ImageInputError, LimitExceededError
from colorizer.imaging.flatten import PaintedPixels, flatten_regions, hint_layer
from colorizer.imaging.hints import PointHint, StrokeHint, build_hint_map
from colorizer.imaging.limits import InputLimits
from colorizer.imaging.postprocess import encode_image, overlay_lines
from colorizer.imaging.upsample import guided_restore, guided_upsample

__all__ = [
    "Canvas",
    "ImageInputError",
    "InputLimits",
    "LimitExceededError",
    "PaintedPixels",
    "PointHint",
    "StrokeHint",
    "build_hint_map",
    "decode_hint_image",
    "decode_sketch",
    "decode_sketch_alpha",
    "encode_image",
    "fit_sketch",
    "flatten_regions",
    "guided_restore",
    "guided_upsample",
    "hint_layer",
    "over_white",
    "overlay_lines",
    "restore_size",
]
