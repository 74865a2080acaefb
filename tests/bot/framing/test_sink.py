"""The framing sink's set-up: off when asked, said clearly when the vision stack is missing; its keys (bot/framing/sink.py)."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import bot.framing as framing
from bot.core.events import MeetingRef
from bot.core.framing_changes import FramingChange
from bot.framing.sink import change_key


def test_without_the_vision_stack_the_sink_is_off_and_a_warning_says_what_still_works(make_settings, monkeypatch, caplog):
    monkeypatch.setattr(framing, "vision_stack_missing", lambda: ["mediapipe"])
    with caplog.at_level(logging.WARNING):
        assert framing.framing_sink(make_settings(framing={"enabled": True}), None, None) is None  # type: ignore[arg-type]
    assert "framing analysis is OFF" in caplog.text and "mediapipe" in caplog.text and "Camera changes" in caplog.text


def test_turned_off_in_the_settings_there_is_no_sink(make_settings):
    assert framing.framing_sink(make_settings(framing={"enabled": False}), None, None) is None  # type: ignore[arg-type]


def test_a_change_is_keyed_by_occurrence_kind_and_start_so_a_replay_stores_nothing_twice():
    at = datetime(2026, 11, 20, 10, 5, tzinfo=timezone.utc)
    meeting = MeetingRef("zoom", "occ-1")
    key = change_key(meeting, FramingChange("lying_down", at, "shoulder line at 88 degrees"))
    assert key == change_key(meeting, FramingChange("lying_down", at, "other words"))
    assert key != change_key(MeetingRef("zoom", "occ-2"), FramingChange("lying_down", at))
    assert key.startswith("framing:") and "lying" not in key
