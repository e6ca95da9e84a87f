"""Export stage: checkpoint -> ONNX (+ TensorRT) -> a Triton model repository, and a local Triton.

Imports the model code (``colorizer.model``, ``colorizer.checkpoint``), never the service.
Heavy dependencies (torch, onnx, onnxruntime, tritonclient) are imported inside functions.
"""

import logging

logger = logging.getLogger("export")
