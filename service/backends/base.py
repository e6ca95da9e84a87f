"""The interface every model backend implements."""

from __future__ import annotations

import abc
import logging

import numpy as np
import numpy.typing as npt

logger = logging.getLogger("service.backends")

F32 = npt.NDArray[np.float32]


class Backend(abc.ABC):
    """Runs the colorizer model on batches of tensors laid out as ``colorizer.contract`` says.

    ``infer`` raises only :class:`service.errors.ColorizerError` subclasses:
    ``BackendUnavailableError`` when the model cannot be reached, ``DeadlineExceededError`` when
    ``timeout_s`` ran out, ``BackendError`` for anything else.
    """

    #: Short name reported by GetModelInfo ("embedded", "triton").
    name: str = ""
    #: Batches the gateway may have running on this backend at once.
    max_concurrent_batches: int = 1

    @abc.abstractmethod
    async def start(self) -> None:
        """Load or connect. A remote backend that is down is not an error here: it is not ready."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the model or the connection."""

    @abc.abstractmethod
    async def check_ready(self) -> bool:
        """Ask whether the model can serve now (for remote backends, a round trip)."""

    @property
    @abc.abstractmethod
    def model_name(self) -> str:
        """The served model's name."""

    @property
    @abc.abstractmethod
    def model_version(self) -> str:
        """The served model's version (or provenance), as reported to clients."""

    @abc.abstractmethod
    async def infer(self, sketch: F32, hint: F32, *, timeout_s: float | None = None) -> F32:
        """``sketch`` [N,1,H,W] and ``hint`` [N,4,H/4,W/4] -> ``color`` [N,3,H,W], all float32."""
