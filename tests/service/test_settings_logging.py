"""Settings come from COLORIZER_* env vars (names the Helm chart relies on); logs carry request ids."""

from __future__ import annotations

import json
import logging

import pytest

from colorizer.imaging import InputLimits
from service.logging import configure_logging, request_id
from service.serve_cmd import add_arguments
from service.settings import Settings


def test_env_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "COLORIZER_HOST": "127.0.0.2",
        "COLORIZER_PORT": "6000",
        "COLORIZER_METRICS_PORT": "6001",
        "COLORIZER_BACKEND": "triton",
        "COLORIZER_MODEL_REPOSITORY": "/models",
        "COLORIZER_MODEL_NAME": "m",
        "COLORIZER_MODEL_VERSION": "3",
        "COLORIZER_TRITON_URL": "triton:8001",
        "COLORIZER_TRITON_TIMEOUT_S": "7",
        "COLORIZER_INPUT_SIZE": "512",
        "COLORIZER_MAX_BATCH_SIZE": "4",
        "COLORIZER_MAX_WAIT_MS": "2",
        "COLORIZER_MAX_QUEUE": "10",
        "COLORIZER_WORKERS": "3",
        "COLORIZER_INTRA_OP_THREADS": "2",
        "COLORIZER_GRACE_S": "4",
        "COLORIZER_MAX_MESSAGE_BYTES": "4096",
        "COLORIZER_KEEPALIVE_TIME_S": "9",
        "COLORIZER_MAX_SKETCH_BYTES": "11",
        "COLORIZER_MAX_SKETCH_PIXELS": "12",
        "COLORIZER_MAX_POINTS": "13",
        "COLORIZER_MAX_STROKES": "14",
        "COLORIZER_MAX_STROKE_POINTS": "15",
        "COLORIZER_MAX_HINT_IMAGE_BYTES": "16",
        "COLORIZER_LOG_LEVEL": "debug",
        "COLORIZER_LOG_FORMAT": "json",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = Settings()
    assert (s.host, s.port, s.metrics_port, s.backend) == ("127.0.0.2", 6000, 6001, "triton")
    assert (str(s.model_repository), s.model_name, s.model_version) == ("/models", "m", "3")
    assert (s.triton_url, s.triton_timeout_s, s.input_size) == ("triton:8001", 7.0, 512)
    assert (s.max_batch_size, s.max_wait_ms, s.max_queue, s.worker_threads(), s.intra_op()) == (
        4,
        2,
        10,
        3,
        2,
    )
    assert (s.grace_s, s.max_message_bytes, s.keepalive_time_s) == (4, 4096, 9)
    assert s.limits() == InputLimits(11, 12, 13, 14, 15, 16)
    assert (s.log_level, s.log_format) == ("DEBUG", "json")
    assert not s.batch_in_gateway()  # measured: Triton's own batcher is better alone


def test_defaults_match_the_imaging_limits_and_every_field_is_documented() -> None:
    s = Settings()
    assert s.limits() == InputLimits()
    assert (s.port, s.metrics_port, s.backend, s.batch_in_gateway()) == (50051, 9090, "embedded", True)
    assert all(field.description for field in Settings.model_fields.values())


@pytest.mark.parametrize(("key", "value"), [("COLORIZER_INPUT_SIZE", "100"), ("COLORIZER_BACKEND", "tf")])
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, key: str, value: str) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ValueError):
        Settings()


def test_serve_flags_parse() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--port", "1", "--metrics-port", "2", "--backend", "triton", "--triton-url", "t:1"]
    )
    assert (args.port, args.metrics_port, args.backend, args.triton_url) == (1, 2, "triton", "t:1")


def test_json_logs_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", "json")
        token = request_id.set("req-42")
        logging.getLogger("service").info("colorized %d images", 3)
        request_id.reset(token)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["request_id"] == "req-42" and line["message"] == "colorized 3 images"
    assert line["level"] == "INFO" and line["logger"] == "service"


def test_canvas_range_defaults_and_an_old_input_size_keeps_its_canvas() -> None:
    from service.settings import Settings

    default = Settings()
    assert (default.input_size, default.max_canvas) == (256, 256)
    assert default.canvas_side(3000, 2000) == 256  # the measured best canvas for the shipped model
    assert Settings(input_size=512).max_canvas == 512  # set before canvases varied: still its canvas
    wide = Settings(max_canvas=512, canvas_step=128)
    assert [wide.canvas_side(h, 100) for h in (100, 300, 5000)] == [256, 384, 512]
    assert wide.canvas_side(5000, 100, requested=96) == 96
