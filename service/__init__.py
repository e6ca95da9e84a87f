"""The gRPC gateway: validates requests, batches them and runs the colorizer model.

Subpackages and modules, one concern each: ``settings`` (configuration), ``errors`` (the
exception hierarchy and its status codes), ``batching`` (the micro-batcher), ``backends``
(ONNX Runtime in-process or Triton), ``pipeline`` (decode -> preprocess -> batch -> infer ->
postprocess), ``servicer`` (protobuf <-> pipeline), ``server`` (the process: gRPC, health,
reflection, metrics, shutdown), ``metrics`` and ``logging``. Nothing here imports torch.
"""
