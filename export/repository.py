"""Triton model repository layout and ``config.pbtxt`` for the ONNX model.

The config is built as Triton's own ``ModelConfig`` protobuf (shipped in tritonclient) and
written with ``text_format``, so it can only hold fields of Triton's schema. Every name, channel
count and dtype comes from :mod:`colorizer.contract`; height and width are ``-1`` (dynamic:
positive multiples of ``contract.STRIDE``).

Layout::

    model_repository/
      colorizer/
        config.pbtxt
        1/model.onnx
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorizer import contract

#: Model version directory the export writes.
VERSION = "1"
ONNX_FILENAME = "model.onnx"
CONFIG_FILENAME = "config.pbtxt"

#: Where the TensorRT accelerator caches its engines; the Helm chart mounts a volume here.
ENGINE_CACHE_PATH = "/engine-cache"

_TRITON_DTYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16"}


@dataclass(frozen=True)
class BatchingPolicy:
    """Triton dynamic batching settings written into the config."""

    max_batch_size: int = 16
    #: How long the scheduler may hold a request to form a bigger batch.
    max_queue_delay_us: int = 2000
    #: Requests beyond this many waiting are rejected at once (back-pressure, not unbounded latency).
    max_queue_size: int = 64
    #: A request still queued after this long is rejected (timeout action REJECT).
    queue_timeout_us: int = 5_000_000

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch_size <= 1024:
            raise ValueError(f"max_batch_size must be in 1..1024, got {self.max_batch_size}")
        if self.max_queue_delay_us < 0 or self.max_queue_size < 1 or self.queue_timeout_us < 1:
            raise ValueError(f"invalid batching policy: {self}")

    @property
    def preferred_batch_sizes(self) -> list[int]:
        """Powers of two from 4 up to, and always including, ``max_batch_size``."""
        sizes = [b for b in (4, 8, 16, 32, 64) if b < self.max_batch_size]
        return [*sizes, self.max_batch_size]


def model_dir(repository: Path, name: str = contract.MODEL_NAME) -> Path:
    """The model's folder inside a repository."""
    return Path(repository) / name


def onnx_path(repository: Path, name: str = contract.MODEL_NAME) -> Path:
    """Where the ONNX file of version :data:`VERSION` lives."""
    return model_dir(repository, name) / VERSION / ONNX_FILENAME


def config_path(repository: Path, name: str = contract.MODEL_NAME) -> Path:
    """Where ``config.pbtxt`` lives."""
    return model_dir(repository, name) / CONFIG_FILENAME


def tensor_dims(spec: contract.TensorSpec) -> list[int]:
    """Triton dims of a tensor (batch axis excluded): channels, then dynamic height and width."""
    return [spec.channels, -1, -1]


def triton_dtype(spec: contract.TensorSpec) -> str:
    """Triton data type name of a contract tensor."""
    return _TRITON_DTYPES[spec.dtype]


def _warmup(cfg: Any, batch: int, size: int) -> None:
    warm = cfg.model_warmup.add(name=f"zeros_b{batch}_{size}", batch_size=batch, count=1)
    for spec in contract.INPUTS:
        data = warm.inputs[spec.name]
        data.data_type = triton_dtype(spec)
        data.dims.extend(int(d) for d in spec.shape(None, size, size)[1:])  # type: ignore[arg-type]
        data.zero_data = True


def base_config(policy: BatchingPolicy, *, warmup_size: int = contract.DEFAULT_SIZE) -> Any:
    """The parts every variant shares: name, tensors, dynamic batching, warmup (a ModelConfig)."""
    from tritonclient.grpc import model_config_pb2 as mc

    contract.check_size(warmup_size, warmup_size)
    cfg = mc.ModelConfig(name=contract.MODEL_NAME, max_batch_size=policy.max_batch_size)
    for spec in contract.INPUTS:
        cfg.input.add(name=spec.name, data_type=triton_dtype(spec), dims=tensor_dims(spec))
    for spec in contract.OUTPUTS:
        cfg.output.add(name=spec.name, data_type=triton_dtype(spec), dims=tensor_dims(spec))
    db = cfg.dynamic_batching
    db.preferred_batch_size.extend(policy.preferred_batch_sizes)
    db.max_queue_delay_microseconds = policy.max_queue_delay_us
    db.default_queue_policy.timeout_action = mc.ModelQueuePolicy.REJECT
    db.default_queue_policy.default_timeout_microseconds = policy.queue_timeout_us
    db.default_queue_policy.allow_timeout_override = True
    db.default_queue_policy.max_queue_size = policy.max_queue_size
    # Warm up at batch 1 and at the largest batch: with the TensorRT accelerator this builds
    # (or loads from the cache) an engine whose profile covers the whole batch range.
    for batch in sorted({1, policy.max_batch_size}):
        _warmup(cfg, batch, warmup_size)
    return cfg


def onnx_config(policy: BatchingPolicy, *, instances: int = 1, engine_cache: str = ENGINE_CACHE_PATH,
                warmup_size: int = contract.DEFAULT_SIZE) -> Any:
    """Production config: onnxruntime backend, TensorRT FP16 accelerator on GPUs (a ModelConfig)."""
    from tritonclient.grpc import model_config_pb2 as mc

    cfg = base_config(policy, warmup_size=warmup_size)
    cfg.backend = "onnxruntime"
    cfg.default_model_filename = ONNX_FILENAME
    # KIND_AUTO: one instance per GPU where there are GPUs, CPU instances otherwise.
    cfg.instance_group.add(kind=mc.ModelInstanceGroup.KIND_AUTO, count=instances)
    trt = cfg.optimization.execution_accelerators.gpu_execution_accelerator.add(name="tensorrt")
    trt.parameters["precision_mode"] = "FP16"
    trt.parameters["max_workspace_size_bytes"] = str(2 << 30)
    trt.parameters["trt_engine_cache_enable"] = "1"
    trt.parameters["trt_engine_cache_path"] = engine_cache
    return cfg


def write_config(cfg: Any, path: Path) -> Path:
    """Write a ModelConfig as ``config.pbtxt`` text (deterministic field order)."""
    from google.protobuf import text_format

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text_format.MessageToString(cfg))
    return path


def read_config(path: Path) -> Any:
    """Parse a ``config.pbtxt`` with Triton's ModelConfig schema (raises on unknown fields)."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2 as mc

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no Triton config at {path}")
    return text_format.Parse(path.read_text(), mc.ModelConfig())
