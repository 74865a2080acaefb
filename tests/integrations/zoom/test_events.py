"""Parsing Zoom webhook bodies into domain events."""
from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timezone

import pytest

from bot.core import events as ev
from integrations.zoom.events import WebhookFormatError, parse_event
from tests.conftest import load_fixture

MEETING = load_fixture("zoom/session_reconnect_recording_visitor.json")


def first(name: str) -> dict:
    return copy.deepcopy(next(body for body in MEETING if body["event"] == name))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_meeting_started_keeps_the_occurrence_and_schedule():
    parsed = parse_event(first("meeting.started"))
    (event,) = parsed.events
    assert isinstance(event, ev.MeetingStarted)
    assert parsed.meeting == ev.MeetingRef("zoom", "mN4x+Qz8TgW0b1Kc9vYp2A==", "85746065432", "hTq3Wl8kR0yC5fG1nB7xZw")  # no topic: it may name someone
    assert event.at == utc(2026, 11, 20, 10, 0, 0, 317000)
    assert event.scheduled_minutes == 50


def test_participant_joined_uses_its_join_time_and_never_records_the_email():
    (event,) = parse_event(first("meeting.participant_joined")).events
    assert isinstance(event, ev.ParticipantJoined)
    assert event.at == utc(2026, 11, 20, 10, 0, 5)
    assert event.participant.stable_id == "A1B2C3D4-0000-4000-8000-00000000000A"
    assert event.participant.account_id == "hTq3Wl8kR0yC5fG1nB7xZw"
    assert event.participant.email == "ruth@clinic.example.org"  # in memory only: the store keys it (bot/storage/at_rest.py)
    record = event.to_record(lambda text: "sealed")
    assert "@" not in str(record) and record["participant"]["name"] == "sealed"


def test_the_stored_record_has_no_leave_reason_or_raw_payload():
    (event,) = parse_event(first("meeting.participant_left")).events
    record = event.to_record(lambda text: text[::-1])
    assert "leave_reason" not in str(record) and "raw" not in record
    rebuilt = ev.event_from_record(event.meeting, record, lambda text: text[::-1])
    assert rebuilt == dataclasses.replace(event, participant=dataclasses.replace(event.participant, email=""))


def test_sharing_uses_the_sharing_details_time():
    (event,) = parse_event(first("meeting.sharing_started")).events
    assert isinstance(event, ev.SharingStarted)
    assert event.at == utc(2026, 11, 20, 10, 30, 0)


def test_meeting_ended_prefers_end_time():
    (event,) = parse_event(first("meeting.ended")).events
    assert isinstance(event, ev.MeetingEnded) and event.at == utc(2026, 11, 20, 10, 50, 12)


def test_rtms_started_is_flat_and_kept_for_the_stream_client():
    body = {
        "event": "meeting.rtms_started",
        "event_ts": 1795168800317,
        "payload": {"meeting_uuid": "mN4x+Qz8TgW0b1Kc9vYp2A==", "operator_id": "op", "rtms_stream_id": "s-1", "server_urls": "wss://127.0.0.1:9/"},
    }
    (event,) = parse_event(body).events
    assert isinstance(event, ev.StreamStarted)
    assert (event.stream_id, event.server_url) == ("s-1", "wss://127.0.0.1:9/")
    assert event.meeting.host_id == ""


def test_missing_fields_fall_back_to_event_ts_and_guests_have_no_ids():
    body = first("meeting.participant_joined")
    body["payload"]["object"]["participant"] = {"user_name": "Guest", "join_time": ""}
    (event,) = parse_event(body).events
    assert event.at == utc(2026, 11, 20, 10, 0, 5, 317000)
    assert event.participant == ev.ParticipantRef(name="Guest")


def test_unknown_events_are_not_used():
    assert parse_event({"event": "meeting.chat_message_sent", "payload": {"object": {}}}) is None


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda b: b["payload"]["object"].pop("uuid"), "uuid"),
        (lambda b: b["payload"]["object"]["participant"].update(join_time="yesterday"), "ISO 8601"),
        (lambda b: b.update(event_ts=10**20), "out of range"),
        (lambda b: b["payload"].update(object="x"), "payload.object"),
    ],
)
def test_malformed_known_events_raise_a_format_error(mutate, reason):
    body = first("meeting.participant_joined")
    mutate(body)
    with pytest.raises(WebhookFormatError, match=reason):
        parse_event(body)


def test_recordings_use_their_file_times_else_event_ts():
    (started,) = parse_event(first("recording.started")).events
    (stopped,) = parse_event(first("recording.stopped")).events
    assert (started.at, stopped.at) == (utc(2026, 11, 20, 10, 25, 0), utc(2026, 11, 20, 10, 26, 0))
    bare = first("recording.started")
    del bare["payload"]["object"]["recording_file"]
    assert parse_event(bare).events[0].at == utc(2026, 11, 20, 10, 25, 0, 317000)
