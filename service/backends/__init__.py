"""Model backends behind one interface: ONNX Runtime in-process, or a Triton server."""

from __future__ import annotations

from service.backends.base import Backend
from service.settings import Settings

__all__ = ["Backend", "create_backend"]


def create_backend(settings: Settings) -> Backend:
    """The backend ``settings.backend`` names (its client libraries are imported only then)."""
    if settings.backend == "embedded":
        from service.backends.embedded import EmbeddedBackend

        return EmbeddedBackend(settings)
    from service.backends.triton import TritonBackend

    return TritonBackend(settings)
