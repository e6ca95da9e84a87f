"""The ``tensorrt_plan`` route: a prebuilt TensorRT engine and its Triton config.

A plan is built on (and only runs on) a machine with the GPU model and TensorRT version that
will serve it. Its optimization profile covers batch 1..``max_batch_size`` at one served size,
so the plan's config has fixed height and width. TensorRT and torch (used for device buffers)
are imported only inside the functions that need a GPU; the config and profile code runs anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from colorizer import contract
from export import logger
from export import repository as repo

PLAN_FILENAME = "model.plan"

Shape = tuple[int, int, int, int]


def profile_shapes(max_batch_size: int, height: int, width: int,
                   opt_batch: int | None = None) -> dict[str, tuple[Shape, Shape, Shape]]:
    """(min, opt, max) shape of every input for a profile covering batch 1..``max_batch_size``."""
    contract.check_size(height, width)
    if max_batch_size < 1:
        raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
    opt = max_batch_size if opt_batch is None else opt_batch
    if not 1 <= opt <= max_batch_size:
        raise ValueError(f"opt_batch must be in 1..{max_batch_size}, got {opt}")
    shapes = {}
    for spec in contract.INPUTS:
        _, c, h, w = spec.shape(None, height, width)
        shapes[spec.name] = ((1, c, h, w), (opt, c, h, w), (max_batch_size, c, h, w))
    return shapes


def plan_config(policy: repo.BatchingPolicy, height: int = contract.DEFAULT_SIZE,
                width: int = contract.DEFAULT_SIZE) -> Any:
    """Triton ModelConfig for the plan: platform tensorrt_plan, fixed served size, GPU instance."""
    from tritonclient.grpc import model_config_pb2 as mc

    contract.check_size(height, width)
    cfg = repo.base_config(policy, warmup_size=min(height, width))
    cfg.platform = "tensorrt_plan"
    cfg.default_model_filename = PLAN_FILENAME
    for tensor in (*cfg.input, *cfg.output):
        spec = next(s for s in (*contract.INPUTS, *contract.OUTPUTS) if s.name == tensor.name)
        del tensor.dims[:]
        tensor.dims.extend(int(d) for d in spec.shape(None, height, width)[1:])  # type: ignore[arg-type]
    # Warmup must use the one size the plan accepts.
    del cfg.model_warmup[:]
    for batch in sorted({1, policy.max_batch_size}):
        warm = cfg.model_warmup.add(name=f"zeros_b{batch}_{height}x{width}", batch_size=batch, count=1)
        for spec in contract.INPUTS:
            data = warm.inputs[spec.name]
            data.data_type = repo.triton_dtype(spec)
            data.dims.extend(int(d) for d in spec.shape(None, height, width)[1:])  # type: ignore[arg-type]
            data.zero_data = True
    cfg.instance_group.add(kind=mc.ModelInstanceGroup.KIND_GPU, count=1)
    return cfg


def build_plan(onnx_file: Path, plan_file: Path, *, max_batch_size: int, height: int, width: int,
               fp16: bool = True, workspace_bytes: int = 4 << 30) -> Path:
    """Build a serialized TensorRT engine from an ONNX file (needs a GPU and TensorRT >= 8.6)."""
    import tensorrt as trt

    trt_logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(trt_logger)
    # TensorRT 10 networks are always explicit-batch; 8.x needs the flag.
    flag = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    network = builder.create_network(0 if flag is None else 1 << int(flag))
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse(Path(onnx_file).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_file}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in profile_shapes(max_batch_size, height, width).items():
        profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError("TensorRT failed to build the engine (see its log above)")
    plan_file = Path(plan_file)
    plan_file.parent.mkdir(parents=True, exist_ok=True)
    plan_file.write_bytes(bytes(serialized))
    logger.info("built %s (%d bytes)", plan_file, plan_file.stat().st_size)
    return plan_file


def write_plan_repository(onnx_file: Path, repository: Path, policy: repo.BatchingPolicy, *,
                          height: int = contract.DEFAULT_SIZE, width: int = contract.DEFAULT_SIZE,
                          fp16: bool = True) -> Path:
    """Build the plan into ``repository/colorizer/1/model.plan`` and write its config.pbtxt."""
    plan = repo.model_dir(repository) / repo.VERSION / PLAN_FILENAME
    build_plan(onnx_file, plan, max_batch_size=policy.max_batch_size, height=height, width=width, fp16=fp16)
    repo.write_config(plan_config(policy, height, width), repo.config_path(repository))
    return plan


class PlanRunner:
    """Runs a TensorRT plan on the GPU with torch tensors as device buffers (TensorRT 10 API)."""

    def __init__(self, plan_file: Path) -> None:
        import tensorrt as trt
        import torch

        self._torch = torch
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(Path(plan_file).read_bytes())
        if self.engine is None:
            raise RuntimeError(f"TensorRT could not load {plan_file}")
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()

    def __call__(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Run one batch (host arrays in, host ``color`` array out)."""
        torch = self._torch
        inputs = {k: torch.from_numpy(v).cuda() for k, v in feeds.items()}
        for name, tensor in inputs.items():
            self.context.set_input_shape(name, tuple(tensor.shape))
            self.context.set_tensor_address(name, tensor.data_ptr())
        n, _, h, w = inputs[contract.SKETCH.name].shape
        out = torch.empty((n, contract.COLOR.channels, h, w), dtype=torch.float32, device="cuda")
        self.context.set_tensor_address(contract.COLOR.name, out.data_ptr())
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError("TensorRT execution failed")
        self.stream.synchronize()
        return out.cpu().numpy()
