"""Triton python-backend model of the CPU twin: runs the repository's ONNX file in ONNX Runtime.

This file is copied as ``<model>/1/model.py`` into the twin repository and runs inside Triton's
Python-backend stub, in Triton's own virtual environment (numpy < 2, onnxruntime). It imports
nothing from this project: tensor names and batching come from the model's config.pbtxt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    """Batches the requests Triton hands over into one ONNX Runtime call per input shape."""

    def initialize(self, args: dict[str, str]) -> None:
        """Open the ONNX Runtime session for the model's ONNX file."""
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        filename = params.get("onnx_filename", "model.onnx")
        path = Path(args["model_repository"]) / args["model_version"] / filename
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(params.get("intra_op_threads", "0"))
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [t["name"] for t in config["input"]]
        self.outputs = [t["name"] for t in config["output"]]

    def execute(self, requests: list[Any]) -> list[Any]:
        """One response per request; requests with equal input shapes share one session run."""
        responses: list[Any] = [None] * len(requests)
        groups: dict[tuple[tuple[int, ...], ...], list[tuple[int, list[np.ndarray]]]] = {}
        for i, request in enumerate(requests):
            arrays = [pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in self.inputs]
            groups.setdefault(tuple(a.shape[1:] for a in arrays), []).append((i, arrays))
        for items in groups.values():
            feeds = {name: np.concatenate([a[k] for _, a in items]) for k, name in enumerate(self.inputs)}
            try:
                results = self.session.run(self.outputs, feeds)
            except Exception as exc:  # a bad shape reaches the client as a Triton error, not a crash
                error = pb_utils.TritonError(f"onnxruntime failed: {exc}")
                for i, _ in items:
                    responses[i] = pb_utils.InferenceResponse(output_tensors=[], error=error)
                continue
            offset = 0
            for i, arrays in items:
                n = arrays[0].shape[0]
                tensors = [pb_utils.Tensor(name, np.ascontiguousarray(out[offset:offset + n]))
                           for name, out in zip(self.outputs, results, strict=True)]
                responses[i] = pb_utils.InferenceResponse(output_tensors=tensors)
                offset += n
        return responses
