"""What a benchmark ran on: cores, CPU model and flags, load, library versions, the model file."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
from pathlib import Path

#: CPU flags that decide which kernels ONNX Runtime / OpenCV can use.
_FLAGS_OF_INTEREST = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_bf16",
    "amx_int8",
    "amx_tile",
)
_PACKAGES = (
    "onnxruntime",
    "onnx",
    "numpy",
    "opencv-python-headless",
    "opencv-python",
    "grpcio",
    "tritonclient",
    "prometheus-client",
    "matplotlib",
)


def _cpuinfo() -> tuple[str, list[str]]:
    model: str = platform.processor() or "unknown"
    flags: list[str] = []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in ("unknown", "", "x86_64"):
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = value.split()
    except OSError:
        pass
    return model, flags


def load_average() -> list[float]:
    """The 1/5/15-minute load averages (other work on shared cores makes figures noisy)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine_info() -> dict[str, object]:
    """Cores, CPU model, relevant flags, memory, OS and Python."""
    model, flags = _cpuinfo()
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": model,
        "cpu_flags": [f for f in _FLAGS_OF_INTEREST if f in flags],
        "memory_gib": mem_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": load_average(),
    }


def versions() -> dict[str, str]:
    """Installed versions of the libraries on the measured path."""
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def model_info(path: Path) -> dict[str, object]:
    """The model file: path, size, sha256 prefix and its metadata properties."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "sha256_16": digest,
        "metadata": {p.key: p.value for p in model.metadata_props},
    }
