"""`[logging] format`: text as before, or one JSON object a line, a traceback included, with the request's id while one is served."""
from __future__ import annotations

import json
import logging
from typing import Any

from bot.config.log_format import REQUEST_ID, TEXT_FORMAT, formatter


def record(message: str, *args: object, exc_info: Any = None) -> logging.LogRecord:
    return logging.LogRecord("bot.web.api", logging.WARNING, __file__, 1, message, args, exc_info)


def test_text_is_the_default_line():
    line = formatter("text").format(record("session %s judged", "s-1"))
    assert line.endswith(" WARNING bot.web.api: session s-1 judged") and formatter("text")._fmt == TEXT_FORMAT


def test_a_json_line_is_one_object_with_the_request_id_only_while_a_request_is_served():
    outside = json.loads(formatter("json").format(record("session %s judged", "s-1")))
    assert set(outside) == {"time", "level", "logger", "message"} and outside["time"].endswith("Z")
    assert (outside["level"], outside["logger"], outside["message"]) == ("WARNING", "bot.web.api", "session s-1 judged")
    token = REQUEST_ID.set("0123456789abcdef")
    try:
        inside = json.loads(formatter("json").format(record("stored")))
    finally:
        REQUEST_ID.reset(token)
    assert inside["request_id"] == "0123456789abcdef"


def test_a_traceback_stays_on_the_one_line():
    try:
        raise ValueError("boom")
    except ValueError as err:
        line = formatter("json").format(record("failed", exc_info=(ValueError, err, err.__traceback__)))
    assert "\n" not in line
    assert json.loads(line)["exception"].startswith("Traceback (most recent call last):")


def test_a_logged_exception_shows_its_frames_and_type_never_its_message():
    quoted = ("Sam Client", "sam.client@example.net")  # what a database error quotes of its parameters
    try:
        raise ValueError(f"INSERT ... [parameters: {quoted}]")
    except ValueError:
        import sys

        failed = record("due work %s failed", 7, exc_info=sys.exc_info())
    for kind in ("text", "json"):
        line = formatter(kind).format(failed)
        assert "builtins.ValueError (message withheld)" in line and "test_log_format.py" in line
        assert "Sam Client" not in line and "example.net" not in line
        failed.exc_text = None  # the next formatter renders it afresh
