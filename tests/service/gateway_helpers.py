"""Helpers shared by the gateway tests (images, metrics scraping)."""

from __future__ import annotations

import urllib.request

import cv2
import numpy as np

#: Canvas side used by the tests (small: fast on 2 cores).
TEST_SIZE = 64


def sketch_image(height: int, width: int, *, seed: int = 0) -> np.ndarray:
    """Gray line art: white paper with a few dark lines and circles."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width), 255, np.uint8)
    for _ in range(6):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(img, p1, p2, 0, 2)
    cv2.circle(img, (width // 2, height // 2), min(height, width) // 4, 0, 2)
    return img


def png(image: np.ndarray) -> bytes:
    """PNG bytes of a gray, BGR or BGRA image."""
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def decode_rgb(data: bytes) -> np.ndarray:
    """An encoded image as RGB uint8."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None, "response image does not decode"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def scrape(metrics_port: int) -> str:
    """The text of the gateway's /metrics page."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        return response.read().decode()


def metric_value(text: str, sample: str) -> float:
    """The value of one sample line (``name{labels}``) in a Prometheus text page, 0 if absent."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
