"""Write log lines as text or as one JSON object a line (`[logging] format`), with the request's id; tracebacks without messages."""
from __future__ import annotations

import json
import logging
import traceback
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Set by the web face for each request (bot/web/request_ids.py); a line written while serving it carries it.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


def frames_only(exc: BaseException) -> str:
    """Return the traceback's frames and the exception's type, without its message (it may quote data)."""
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
    return f"Traceback (most recent call last):\n{frames}{type(exc).__module__}.{type(exc).__qualname__} (message withheld)"


class TextLines(logging.Formatter):
    """Text lines; an exception is shown by its frames and type only (a database error's message quotes its parameters)."""

    def formatException(self, ei: Any) -> str:
        return frames_only(ei[1]) if ei[1] is not None else ""


class JsonLines(TextLines):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and request_id while a request is served."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (request_id := REQUEST_ID.get()) is not None:
            line["request_id"] = request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:  # the filters of bot/web/logs.py leave frames only
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


def formatter(kind: str) -> logging.Formatter:
    """Return the formatter for `[logging] format`: "text" or "json"."""
    return JsonLines() if kind == "json" else TextLines(TEXT_FORMAT)
