"""Structured logs for the gateway, each line tagged with the current request id.

The request id lives in a ``contextvars.ContextVar``: the gRPC interceptor sets it per call and
the pipeline per item, so every log line written while handling a request carries it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time

#: The request id of the work this task is doing ("-" outside a request).
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("colorizer_request_id", default="-")

logger = logging.getLogger("service")

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` from the context."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Tag the record; never drops it."""
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request_id, message (and exc_info)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send the root logger's output to stderr as ``fmt`` ("text" or "json") with request ids."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
