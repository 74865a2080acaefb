"""Telling listeners about stored events (bot/tracking/stored_events.py)."""
from __future__ import annotations

from datetime import datetime, timezone

from bot.core.events import MeetingRef, MeetingStarted
from bot.tracking.stored_events import StoredEvents

MEETING = MeetingRef("zoom", "u==")
EVENTS = [MeetingStarted(meeting=MEETING, at=datetime(2026, 11, 20, 10, tzinfo=timezone.utc))]


def test_every_listener_hears_each_delivery_even_when_one_fails(caplog):
    heard: list[tuple[str, int]] = []

    def broken(meeting, events):
        raise RuntimeError("listener bug")

    stored = StoredEvents()
    stored.subscribe(broken)
    stored.subscribe(lambda meeting, events: heard.append((meeting.occurrence_id, len(events))))
    stored.publish(MEETING, EVENTS)
    assert heard == [("u==", 1)]
    assert "a listener failed" in caplog.text


def test_an_unsubscribed_listener_hears_nothing_more():
    heard: list[MeetingRef] = []
    stored = StoredEvents()
    listener = lambda meeting, events: heard.append(meeting)  # noqa: E731
    stored.subscribe(listener)
    stored.publish(MEETING, EVENTS)
    stored.unsubscribe(listener)
    stored.publish(MEETING, EVENTS)
    assert heard == [MEETING]
