"""The ``embedded`` backend: ONNX Runtime in the gateway's own process (no GPU, no Triton)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path
from typing import Any

import numpy as np

from colorizer import contract
from service.backends.base import F32, Backend, logger
from service.errors import BackendError, BackendUnavailableError, DeadlineExceededError
from service.settings import Settings

#: ONNX metadata_props keys read as the model's version, first found wins.
VERSION_KEYS = ("model_version", "version")
#: metadata_props key of the checkpoint digest the export stage records (provenance).
CHECKPOINT_KEY = "colorizer.checkpoint_sha256"


def find_model(repository: Path, name: str, version: str = "") -> tuple[Path, str]:
    """``<repository>/<name>/<version>/model.onnx`` and its version directory's name.

    An empty ``version`` picks the highest numeric version that has a ``model.onnx``, as Triton's
    default version policy does.
    """
    model_dir = repository / name
    if version:
        path = model_dir / version / "model.onnx"
        if not path.is_file():
            raise BackendUnavailableError(f"model file {path} not found")
        return path, version
    versions = sorted(
        (int(d.name) for d in model_dir.glob("*") if d.name.isdigit() and (d / "model.onnx").is_file()),
    )
    if not versions:
        raise BackendUnavailableError(f"no <version>/model.onnx under {model_dir}")
    return model_dir / str(versions[-1]) / "model.onnx", str(versions[-1])


def session_options(intra_op_threads: int) -> Any:
    """The ONNX Runtime session options the gateway runs the model with (the benchmark uses them too).

    Measured on 2 cores (``colorizer bench``): ORT_ENABLE_ALL (NCHWc conv kernels fused with the
    activations) is 1.4x faster than EXTENDED/BASIC; the memory arena saves ~10% per batch; one
    inter-op thread with sequential execution, because the graph is a chain and the intra-op
    threads already use every core. Spinning is off: idle ORT threads would otherwise busy-wait
    on the cores that the gateway's image threads and event loop need between batches (same
    model speed when measured alone).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_cpu_mem_arena = True
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


class EmbeddedBackend(Backend):
    """ONNX Runtime session on the repository's model file; inference runs in its own thread."""

    name = "embedded"
    # One batch at a time: the session already uses every core through its intra-op threads.
    max_concurrent_batches = 1

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session: Any = None
        self._version = ""
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def model_name(self) -> str:
        """The model's name in the repository."""
        return self._settings.model_name

    @property
    def model_version(self) -> str:
        """The ONNX file's ``model_version``/``version`` metadata, else its version directory,
        plus ``+<checkpoint sha256 prefix>`` when the export recorded one."""
        return self._version

    async def start(self) -> None:
        """Load the model file into an ONNX Runtime session (off the event loop)."""
        import onnxruntime as ort

        path, dir_version = find_model(
            self._settings.model_repository, self._settings.model_name, self._settings.model_version
        )
        options = session_options(self._settings.intra_op())
        providers = [
            p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()
        ]
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="onnxruntime")
        loop = asyncio.get_running_loop()
        try:
            self._session = await loop.run_in_executor(
                self._executor, lambda: ort.InferenceSession(str(path), options, providers=providers)
            )
        except Exception as exc:
            raise BackendUnavailableError(f"cannot load {path}: {exc}") from exc
        names = {i.name for i in self._session.get_inputs()}
        expected = {spec.name for spec in contract.INPUTS}
        if names != expected:
            raise BackendUnavailableError(f"{path} has inputs {sorted(names)}, expected {sorted(expected)}")
        meta = self._session.get_modelmeta().custom_metadata_map
        self._version = next((meta[k] for k in VERSION_KEYS if meta.get(k)), dir_version)
        if meta.get(CHECKPOINT_KEY):  # e.g. "1+3f2a9c0d1e2b4a5c": version + which checkpoint
            self._version = f"{self._version}+{meta[CHECKPOINT_KEY]}"
        logger.info(
            "embedded backend loaded %s (version %s, %s, %s intra-op threads)",
            path,
            self._version,
            providers[0],
            options.intra_op_num_threads,
        )

    async def close(self) -> None:
        """Drop the session and its thread."""
        self._session = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def check_ready(self) -> bool:
        """Ready once the session is loaded."""
        return self._session is not None

    async def infer(self, sketch: F32, hint: F32, *, timeout_s: float | None = None) -> F32:
        """Run the session in the backend's thread, stopped after ``timeout_s`` seconds.

        ONNX Runtime checks a run's ``terminate`` flag between graph nodes: a run still going (or
        still waiting behind another) when the time is up ends with :class:`DeadlineExceededError`
        instead of spending the cores on an answer nobody waits for.
        """
        import onnxruntime as ort

        session = self._session
        if session is None or self._executor is None:
            raise BackendUnavailableError("model not loaded")
        if timeout_s is not None and timeout_s <= 0:
            raise DeadlineExceededError("deadline exceeded before inference")
        feeds = {contract.SKETCH.name: sketch, contract.HINT.name: hint}
        options = ort.RunOptions()
        loop = asyncio.get_running_loop()
        timer = None if timeout_s is None else loop.call_later(timeout_s, setattr, options, "terminate", True)
        try:
            (color,) = await loop.run_in_executor(
                self._executor, session.run, [contract.COLOR.name], feeds, options
            )
        except Exception as exc:
            if options.terminate:
                raise DeadlineExceededError("deadline exceeded during inference") from None
            logger.exception("ONNX Runtime inference failed")
            raise BackendError("model inference failed") from exc
        finally:
            if timer is not None:
                timer.cancel()
        return np.asarray(color, dtype=np.float32)
