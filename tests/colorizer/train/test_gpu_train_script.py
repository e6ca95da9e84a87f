"""scripts/gpu_train.py on a machine without CUDA: it says so and exits 2, having trained nothing."""

import json
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]


def test_gpu_train_refuses_without_cuda(tmp_path: Path) -> None:
    assert not torch.cuda.is_available()  # CI and these machines have no GPU
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_train.py"), "--shard", str(tmp_path / "s.npz"),
         "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2, done.stderr
    facts = json.loads(done.stdout.splitlines()[0])
    assert facts["cuda_available"] is False and facts["torch"].startswith("2.")
    assert "no CUDA device" in done.stdout and not (tmp_path / "run").exists()
