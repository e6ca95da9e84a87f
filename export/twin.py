"""CPU twin of a model repository, for the Triton bundled in nvidia-pytriton.

That Triton has no onnxruntime (or tensorrt) backend, so the twin wraps the same ONNX file in a
python-backend model (:mod:`export.twin_model`) that runs ONNX Runtime. Model name, tensor names,
dims, data types, ``max_batch_size``, dynamic batching and warmup are copied from the production
``config.pbtxt``; only the backend, instance group and GPU optimization differ.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from colorizer import contract
from export import repository as repo

#: Config parameter the twin's model.py reads for ONNX Runtime's intra-op thread count.
THREADS_PARAMETER = "intra_op_threads"


def twin_config(production: Any, *, intra_op_threads: int = 0) -> Any:
    """The twin's ModelConfig derived from a production (onnxruntime backend) ModelConfig."""
    from tritonclient.grpc import model_config_pb2 as mc

    cfg = mc.ModelConfig()
    cfg.CopyFrom(production)
    cfg.platform = ""
    cfg.backend = "python"
    cfg.ClearField("default_model_filename")
    cfg.ClearField("optimization")
    cfg.ClearField("instance_group")
    cfg.instance_group.add(kind=mc.ModelInstanceGroup.KIND_CPU, count=1)
    cfg.parameters[THREADS_PARAMETER].string_value = str(intra_op_threads)
    cfg.parameters["onnx_filename"].string_value = repo.ONNX_FILENAME
    return cfg


def make_cpu_twin(source: Path, dest: Path, *, intra_op_threads: int = 0,
                  name: str = contract.MODEL_NAME) -> Path:
    """Write a python-backend twin of ``source``'s model into the repository ``dest``.

    ``dest`` is rewritten: the model folder is replaced so a re-export is picked up.
    """
    source, dest = Path(source), Path(dest)
    onnx_file = repo.onnx_path(source, name)
    if not onnx_file.is_file():
        raise FileNotFoundError(f"{source} has no {name}/{repo.VERSION}/{repo.ONNX_FILENAME}; "
                                "run `colorizer export`")
    production = repo.read_config(repo.config_path(source, name))
    if production.backend == "python":
        raise ValueError(f"{source} is already a python-backend repository; pass the production one")
    target = repo.model_dir(dest, name)
    if target.exists():
        shutil.rmtree(target)
    version_dir = target / repo.VERSION
    version_dir.mkdir(parents=True)
    shutil.copyfile(onnx_file, version_dir / repo.ONNX_FILENAME)
    shutil.copyfile(Path(__file__).with_name("twin_model.py"), version_dir / "model.py")
    cfg = twin_config(production, intra_op_threads=intra_op_threads)
    repo.write_config(cfg, repo.config_path(dest, name))
    return dest
