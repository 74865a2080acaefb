"""Small builders for domain events in core tests."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.core import events as ev

MEETING = ev.MeetingRef("zoom", "occ-1", "123", "HOST")
START = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
THERAPIST = ev.ParticipantRef(user_id="100", stable_id="uuid-t", account_id="HOST", name="Therapist")
CLIENT = ev.ParticipantRef(user_id="200", stable_id="uuid-c", name="Client")
CLIENT_AGAIN = ev.ParticipantRef(user_id="201", stable_id="uuid-c", name="Client")
VISITOR = ev.ParticipantRef(user_id="300", stable_id="uuid-v", name="Visitor")


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def started(s: float = 0) -> ev.MeetingStarted:
    return ev.MeetingStarted(MEETING, at(s))


def ended(s: float) -> ev.MeetingEnded:
    return ev.MeetingEnded(MEETING, at(s))


def joined(s: float, who: ev.ParticipantRef) -> ev.ParticipantJoined:
    return ev.ParticipantJoined(MEETING, at(s), participant=who)


def left(s: float, who: ev.ParticipantRef) -> ev.ParticipantLeft:
    return ev.ParticipantLeft(MEETING, at(s), participant=who)


def video(s: float, who: ev.ParticipantRef, on: bool) -> ev.VideoStateChanged:
    return ev.VideoStateChanged(MEETING, at(s), participant=who, on=on)


def in_order(*events: ev.MeetingEvent) -> list[ev.MeetingEvent]:
    return sorted(events, key=ev.sort_key)
