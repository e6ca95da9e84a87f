"""GPU check for the export stage: what is installed, TensorRT plan parity and throughput.

Run from the repository root on a GPU machine (no network, no pip installs, < 5 minutes)::

    python scripts/gpu_check.py [--onnx model_repository/colorizer/1/model.onnx] [--size 256]

Needs only torch, numpy and onnxruntime. It first prints what is installed. Where TensorRT is
installed it builds a plan from the ONNX file (profile: batch 1..max at the served size), checks
it against ONNX Runtime within the FP16 tolerance and times it. Where it is not, it says so and
times the same generator in PyTorch on the GPU (fp16, channels-last), and with ONNX Runtime's
CUDA provider when present. Figures are images/s per batch size.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a plain script from a checkout, without installing

import numpy as np  # noqa: E402

from colorizer import contract  # noqa: E402
from export import onnx_export as ox  # noqa: E402


def version_of(module: str) -> str:
    """The module's version, or why it is missing."""
    try:
        return str(getattr(importlib.import_module(module), "__version__", "installed"))
    except Exception as exc:
        return f"absent ({type(exc).__name__})"


def print_environment() -> dict[str, bool]:
    """Print versions, devices and providers; return which optional engines are usable."""
    import onnxruntime as ort
    import torch

    print(f"python {platform.python_version()} on {platform.machine()}")
    print(f"torch {torch.__version__}, CUDA build {torch.version.cuda}, "
          f"cuda available {torch.cuda.is_available()}")
    if torch.cuda.is_available():
        print(f"  device: {torch.cuda.get_device_name(0)}, cuDNN {torch.backends.cudnn.version()}")
    print(f"onnxruntime {ort.__version__}, providers {ort.get_available_providers()}")
    for module in ("tensorrt", "onnx", "onnxscript", "cupy", "tritonclient"):
        print(f"{module}: {version_of(module)}")
    return {
        "cuda": torch.cuda.is_available(),
        "tensorrt": not version_of("tensorrt").startswith("absent"),
        "ort_cuda": "CUDAExecutionProvider" in ort.get_available_providers(),
    }


def throughput(run: Callable[[int], object], batch: int, *, sync: Callable[[], object],
               budget_s: float = 1.5) -> float:
    """Images per second of ``run(batch)``, after warm-up, over about ``budget_s`` seconds."""
    for _ in range(3):
        run(batch)
    sync()
    iters, start = 0, time.perf_counter()
    while True:
        run(batch)
        iters += 1
        if iters >= 5 and time.perf_counter() - start > budget_s:
            break
    sync()
    return batch * iters / (time.perf_counter() - start)


Reference = Callable[[dict[str, np.ndarray]], np.ndarray]


def check_tensorrt(onnx_file: Path, size: int, batches: list[int], max_batch: int,
                   reference: Reference) -> None:
    """Build the plan, compare it with ONNX Runtime (CPU), time it."""
    import torch

    from export import tensorrt
    from export.repository import BatchingPolicy

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        try:
            policy = BatchingPolicy(max_batch_size=max_batch)
            plan = tensorrt.write_plan_repository(onnx_file, Path(tmp), policy, height=size, width=size)
            print(f"TensorRT plan + config.pbtxt written in {time.perf_counter() - start:.1f} s")
        except ImportError:  # tritonclient absent: the plan alone
            plan = tensorrt.build_plan(onnx_file, Path(tmp) / "model.plan", max_batch_size=max_batch,
                                       height=size, width=size)
            print(f"TensorRT plan built in {time.perf_counter() - start:.1f} s "
                  "(tritonclient absent: no config written)")
        print(f"plan size {plan.stat().st_size / 1e6:.1f} MB")
        runner = tensorrt.PlanRunner(plan)
        for batch in sorted({1, max_batch}):
            feeds = ox.sample_inputs(batch, size, size, seed=batch)
            err = float(np.abs(runner(feeds) - reference(feeds)).max())
            verdict = "OK" if err < ox.FP16_TOLERANCE else "FAIL"
            print(f"TensorRT FP16 vs ONNX Runtime, batch {batch}: max abs error {err:.3g} "
                  f"(tolerance {ox.FP16_TOLERANCE}) {verdict}")
        for batch in batches:
            feeds = ox.sample_inputs(batch, size, size)
            ips = throughput(lambda _b, f=feeds: runner(f), batch, sync=torch.cuda.synchronize)  # type: ignore[misc]
            print(f"TensorRT FP16 (incl. host copies) batch {batch:3d}: {ips:8.1f} images/s")


def time_torch(preset: str, size: int, batches: list[int]) -> None:
    """Time the generator of ``preset`` in PyTorch on the GPU, fp16, channels-last."""
    import torch

    from colorizer.model import build_generator, conv_gflops

    torch.manual_seed(0)
    generator = build_generator(preset).eval()
    gflops = conv_gflops(generator, size, size)
    model = generator.cuda().half().to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    torch.backends.cudnn.benchmark = True
    for batch in batches:
        sketch = torch.rand(batch, 1, size, size, device="cuda", dtype=torch.half).contiguous(
            memory_format=torch.channels_last)
        hint = torch.zeros(batch, 4, size // 4, size // 4, device="cuda", dtype=torch.half).contiguous(
            memory_format=torch.channels_last)

        def run(_b: int, s: torch.Tensor = sketch, h: torch.Tensor = hint) -> None:
            with torch.inference_mode():
                model(s, h)

        ips = throughput(run, batch, sync=torch.cuda.synchronize)
        print(f"PyTorch fp16 channels-last, preset {preset}, batch {batch:3d}: {ips:8.1f} images/s "
              f"({ips * gflops / 1e3:.1f} TFLOP/s)")


def time_ort_cuda(onnx_file: Path, size: int, batches: list[int], reference: Reference) -> None:
    """ONNX Runtime with the CUDA provider: parity with the CPU provider and images/s."""
    import onnxruntime as ort

    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    session = ort.InferenceSession(str(onnx_file), providers=providers)
    feeds = ox.sample_inputs(2, size, size, seed=2)
    err = float(np.abs(session.run(None, feeds)[0] - reference(feeds)).max())
    print(f"ONNX Runtime CUDA vs CPU, batch 2: max abs error {err:.3g}")
    for batch in batches:
        f = ox.sample_inputs(batch, size, size)
        ips = throughput(lambda _b, f=f: session.run(None, f), batch, sync=lambda: None)  # type: ignore[misc]
        print(f"ONNX Runtime CUDA fp32 (incl. host copies) batch {batch:3d}: {ips:8.1f} images/s")


def main() -> int:
    """Print the environment, then run what the machine supports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, default=ROOT / "model_repository/colorizer/1/model.onnx")
    parser.add_argument("--size", type=int, default=contract.DEFAULT_SIZE)
    parser.add_argument("--batches", default="1,4,8,16", help="comma-separated batch sizes")
    parser.add_argument("--extra-presets", default="base", help="other presets to time in PyTorch")
    args = parser.parse_args()
    contract.check_size(args.size, args.size)
    batches = [int(b) for b in args.batches.split(",")]
    has = print_environment()
    if not has["cuda"]:
        print("no CUDA device: nothing to time here")
        return 1
    cpu = ox.onnx_session(args.onnx)
    meta = cpu.get_modelmeta().custom_metadata_map
    preset = meta.get("colorizer.preset", "cpu")
    print(f"ONNX file {args.onnx} ({args.onnx.stat().st_size / 1e6:.1f} MB), metadata {meta}")

    def reference(feeds: dict[str, np.ndarray]) -> np.ndarray:
        return cpu.run([contract.COLOR.name], feeds)[0]

    if has["tensorrt"]:
        check_tensorrt(args.onnx, args.size, batches, max(batches), reference)
    else:
        print("TensorRT: ABSENT on this machine; timing PyTorch (and ONNX Runtime CUDA if present) instead")
    time_torch(preset, args.size, batches)
    for extra in filter(None, args.extra_presets.split(",")):
        if extra != preset:
            time_torch(extra, args.size, batches)
    if has["ort_cuda"]:
        time_ort_cuda(args.onnx, args.size, batches, reference)
    else:
        print("ONNX Runtime CUDA provider: absent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
