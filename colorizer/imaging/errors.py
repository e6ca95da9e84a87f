"""Errors for bad user input: the gateway maps them to INVALID_ARGUMENT, the CLIs print them."""

from __future__ import annotations


class ImageInputError(ValueError):
    """A sketch, hint or hint image the caller sent is unusable.

    ``str(e)`` is a user-facing message that names the field and the problem, e.g.
    ``"sketch: not a decodable image"`` or ``"points[3].x=900 is outside the 0..640 sketch width"``.
    """


class LimitExceededError(ImageInputError):
    """A configured limit (bytes, pixels, counts) was exceeded; the message names limit and value."""
