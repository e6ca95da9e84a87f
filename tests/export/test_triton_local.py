"""A real tritonserver (nvidia-pytriton) serving the CPU twin: round trips, restart, clean stop."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from colorizer import contract
from export.onnx_export import onnx_session, sample_inputs
from export.pipeline import ExportReport
from export.triton_local import LocalTriton, TritonError

SIZE = 64  # the size tiny_export was checked at (conftest)

pytestmark = pytest.mark.triton


def group_members(pgid: int) -> list[int]:
    """Pids of live processes whose process group is ``pgid`` (reads /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


@pytest.fixture(scope="module")
def triton(tiny_export: ExportReport, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTriton]:
    """One server for the module (started once; its startup time is logged by LocalTriton)."""
    server = LocalTriton(tiny_export.onnx_path.parents[2], workdir=tmp_path_factory.mktemp("triton"))
    server.start()
    assert server.last_startup_s is not None
    logging.getLogger(__name__).warning("tritonserver startup: %.1f s", server.last_startup_s)
    yield server
    server.stop()


def infer(url: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
    client = grpcclient.InferenceServerClient(url)
    try:
        inputs = []
        for spec in contract.INPUTS:
            tensor = grpcclient.InferInput(spec.name, list(feeds[spec.name].shape), "FP32")
            tensor.set_data_from_numpy(feeds[spec.name])
            inputs.append(tensor)
        result = client.infer(contract.MODEL_NAME, inputs, client_timeout=60.0,
                              outputs=[grpcclient.InferRequestedOutput(contract.COLOR.name)])
        return result.as_numpy(contract.COLOR.name)
    finally:
        client.close()


@pytest.mark.parametrize("batch", [1, 8])
def test_round_trip_matches_onnx_runtime(triton: LocalTriton, tiny_export: ExportReport, batch: int) -> None:
    feeds = sample_inputs(batch, SIZE, SIZE, seed=100 + batch)
    got = infer(triton.grpc_url, feeds)
    (expected,) = onnx_session(tiny_export.onnx_path).run([contract.COLOR.name], feeds)
    assert got.shape == (batch, contract.COLOR.channels, SIZE, SIZE)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_server_reports_the_contract(triton: LocalTriton) -> None:
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    try:
        meta = client.get_model_metadata(contract.MODEL_NAME, as_json=True)
        config = client.get_model_config(contract.MODEL_NAME, as_json=True)["config"]
    finally:
        client.close()
    assert [i["name"] for i in meta["inputs"]] == [t.name for t in contract.INPUTS]
    assert [o["name"] for o in meta["outputs"]] == [t.name for t in contract.OUTPUTS]
    assert meta["inputs"][0]["shape"] == ["-1", "1", "-1", "-1"]
    assert int(config["max_batch_size"]) == 8
    assert "dynamic_batching" in config


def test_bad_size_is_an_error_not_a_crash(triton: LocalTriton) -> None:
    feeds = sample_inputs(1, SIZE, SIZE)
    feeds["hint"] = feeds["hint"][:, :, :5, :]  # hint no longer a quarter of the sketch
    with pytest.raises(InferenceServerException, match="onnxruntime"):
        infer(triton.grpc_url, feeds)
    assert triton.running


def test_kill_then_restart_on_same_ports(triton: LocalTriton) -> None:
    ports = (triton.grpc_port, triton.http_port, triton.metrics_port)
    old = triton.pid
    assert old is not None
    triton.kill()
    assert not triton.running
    assert group_members(old) == []
    with pytest.raises(InferenceServerException):
        infer(triton.grpc_url, sample_inputs(1, SIZE, SIZE))
    triton.start()
    assert (triton.grpc_port, triton.http_port, triton.metrics_port) == ports
    assert infer(triton.grpc_url, sample_inputs(2, SIZE, SIZE)).shape[0] == 2


def test_stop_is_clean_and_idempotent(tiny_export: ExportReport, tmp_path: Path) -> None:
    server = LocalTriton(tiny_export.onnx_path.parents[2], workdir=tmp_path)
    with server:
        pid = server.pid
        assert pid is not None and group_members(pid)
    assert not server.running
    assert group_members(pid) == []
    assert not list(Path("/dev/shm").glob(f"{server._shm_prefix}*"))
    server.stop()  # idempotent


def test_missing_model_fails_with_log_tail(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run `colorizer export`"):
        LocalTriton(tmp_path).start()
    with pytest.raises(TritonError, match="make triton-env"):
        LocalTriton(tmp_path, triton_venv=tmp_path / "no-venv")
