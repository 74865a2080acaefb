"""Parse a verified Zoom webhook body into domain events, through a table keyed by event name."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping

from bot.core import events as ev
from bot.core.timefmt import from_epoch_ms, from_iso

from .const import MAX_MEETING_ID_CHARS, MAX_UUID_CHARS, PLATFORM
from .meetings import is_recurring, listed_occurrences, occurrences, plan_is_complete


class WebhookFormatError(ValueError):
    """A verified body that is not what Zoom sends; the message names the field, never its value."""


@dataclass(frozen=True)
class ParsedDelivery:
    """The domain events of one webhook delivery, all for one meeting occurrence."""

    name: str
    meeting: ev.MeetingRef
    events: tuple[ev.MeetingEvent, ...]


def _text(value: Any) -> str:
    """Return a field as text the database can hold: no NUL, and a lone surrogate (Zoom's samples carry them) as U+FFFD."""
    if value is None:
        return ""
    text = str(value).replace("\x00", "").strip()
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace") if not text.isascii() else text


def _id(obj: Mapping[str, Any], *names: str, limit: int) -> str:
    """Return the first of `names` that is set, as text; refuse one longer than any Zoom sends."""
    for name in names:
        if found := obj.get(name):
            break
    else:
        found = None
    value = _text(found)
    if len(value) > limit:
        raise WebhookFormatError(f"{names[0]} is longer than {limit} characters")
    return value


def _when(text: Any, fallback: datetime | None, field: str) -> datetime:
    if stamp := _text(text):
        try:
            return from_iso(stamp)
        except ValueError:
            raise WebhookFormatError(f"{field} is not an ISO 8601 time") from None
    if fallback is None:
        raise WebhookFormatError(f"{field} and event_ts are both missing")
    return fallback


def _participant(obj: Mapping[str, Any]) -> ev.ParticipantRef:
    p = obj.get("participant")
    if not isinstance(p, dict):
        raise WebhookFormatError("payload.object.participant is missing")
    return ev.ParticipantRef(
        user_id=_text(p.get("user_id")),
        stable_id=_text(p.get("participant_uuid")),
        account_id=_text(p.get("id")),
        name=_text(p.get("user_name")),
        email=_text(p.get("email")),  # the store keeps only its keyed digest
    )


def _meeting_ref(obj: Mapping[str, Any], plan_only: bool = False) -> ev.MeetingRef:
    uuid = _id(obj, "uuid", "meeting_uuid", limit=MAX_UUID_CHARS)
    if not uuid and not plan_only:  # a change to the plan names the meeting by id; the uuid may be absent
        raise WebhookFormatError("the meeting uuid is missing")
    meeting_id = _id(obj, "id", limit=MAX_MEETING_ID_CHARS)
    if plan_only and not meeting_id:
        raise WebhookFormatError("the meeting id is missing")
    return ev.MeetingRef(PLATFORM, uuid, meeting_id, _id(obj, "host_id", limit=MAX_UUID_CHARS))  # never the topic: it may name someone


Handler = Callable[[ev.MeetingRef, Mapping[str, Any], datetime | None], ev.MeetingEvent]


def _started(m: ev.MeetingRef, obj: Mapping[str, Any], ts: datetime | None) -> ev.MeetingEvent:
    minutes = obj.get("duration")
    return ev.MeetingStarted(
        meeting=m,
        at=ts or _when(obj.get("start_time"), None, "start_time"),
        scheduled_start=_text(obj.get("start_time")),
        scheduled_minutes=minutes if isinstance(minutes, int) and not isinstance(minutes, bool) else 0,
    )


def _ended(m: ev.MeetingRef, obj: Mapping[str, Any], ts: datetime | None) -> ev.MeetingEvent:
    return ev.MeetingEnded(meeting=m, at=_when(obj.get("end_time"), ts, "end_time"))


def _participant_event(cls: type[ev.ParticipantEvent], time_field: str) -> Handler:
    def handle(m: ev.MeetingRef, obj: Mapping[str, Any], ts: datetime | None) -> ev.MeetingEvent:
        participant = obj["participant"] if isinstance(obj.get("participant"), dict) else {}
        details = participant.get("sharing_details")
        stamp = participant.get(time_field) or (details.get("date_time") if isinstance(details, dict) else None)
        return cls(meeting=m, at=_when(stamp, ts, f"participant.{time_field}"), participant=_participant(obj))

    return handle


def _recording_event(cls: type[ev.MeetingEvent], time_field: str) -> Handler:
    def handle(m: ev.MeetingRef, obj: Mapping[str, Any], ts: datetime | None) -> ev.MeetingEvent:
        # The recording's own time, when sent: event_ts is when Zoom sent this delivery.
        file = obj.get("recording_file")
        stamp = file.get(time_field) if isinstance(file, dict) else None
        return cls(meeting=m, at=_when(stamp, ts, f"recording_file.{time_field}"))

    return handle


def _stream_event(cls: type[ev.MeetingEvent]) -> Handler:
    def handle(m: ev.MeetingRef, obj: Mapping[str, Any], ts: datetime | None) -> ev.MeetingEvent:
        at = _when(None, ts, "event_ts")
        stream_id = _text(obj.get("rtms_stream_id"))
        if cls is ev.StreamStarted:
            urls = obj.get("server_urls")
            url = urls[0] if isinstance(urls, list) and urls else urls
            return ev.StreamStarted(meeting=m, at=at, stream_id=stream_id, server_url=_text(url))
        if cls is ev.StreamStopped:
            reason = obj.get("stop_reason")
            reason = reason if isinstance(reason, int) and not isinstance(reason, bool) else 0
            return ev.StreamStopped(meeting=m, at=at, stream_id=stream_id, reason=reason)
        return ev.StreamInterrupted(meeting=m, at=at, stream_id=stream_id)

    return handle


def _scheduled(created: bool) -> Handler:
    def handle(m: ev.MeetingRef, obj: Mapping[str, Any], ts: datetime | None) -> ev.MeetingEvent:
        return ev.MeetingScheduled(
            meeting=m,
            at=_when(None, ts, "event_ts"),
            occurrences=occurrences(obj),
            recurring=is_recurring(obj),
            complete=plan_is_complete(obj, created),
        )

    return handle


def _cancelled(m: ev.MeetingRef, obj: Mapping[str, Any], ts: datetime | None) -> ev.MeetingEvent:
    return ev.MeetingCancelled(meeting=m, at=_when(None, ts, "event_ts"), occurrences=listed_occurrences(obj))


HANDLERS: dict[str, Handler] = {
    "meeting.started": _started,
    "meeting.ended": _ended,
    "meeting.participant_joined": _participant_event(ev.ParticipantJoined, "join_time"),
    "meeting.participant_left": _participant_event(ev.ParticipantLeft, "leave_time"),
    "meeting.participant_joined_waiting_room": _participant_event(ev.WaitingRoomJoined, "date_time"),
    "meeting.participant_left_waiting_room": _participant_event(ev.WaitingRoomLeft, "date_time"),
    "meeting.participant_admitted": _participant_event(ev.ParticipantAdmitted, "date_time"),
    "meeting.sharing_started": _participant_event(ev.SharingStarted, "date_time"),
    "meeting.sharing_ended": _participant_event(ev.SharingEnded, "date_time"),
    "recording.started": _recording_event(ev.RecordingStarted, "recording_start"),
    "recording.stopped": _recording_event(ev.RecordingStopped, "recording_end"),
    "meeting.rtms_started": _stream_event(ev.StreamStarted),
    "meeting.rtms_stopped": _stream_event(ev.StreamStopped),
    "meeting.rtms_interrupted": _stream_event(ev.StreamInterrupted),
    "meeting.created": _scheduled(created=True),
    "meeting.updated": _scheduled(created=False),
    "meeting.deleted": _cancelled,
}
# Changes to the plan: they move reminders and stay out of the session's fold.
SCHEDULING_EVENTS = {"meeting.created", "meeting.updated", "meeting.deleted"}
# RTMS payloads are flat: the fields sit in `payload`, not `payload.object`.
FLAT_PAYLOADS = {"meeting.rtms_started", "meeting.rtms_stopped", "meeting.rtms_interrupted"}


def event_name(body: Any) -> str:
    """Return the body's event name, or raise WebhookFormatError if it is not a Zoom event."""
    if not isinstance(body, dict):
        raise WebhookFormatError("the body is not a JSON object")
    name = body.get("event")
    if not isinstance(name, str) or not name:
        raise WebhookFormatError("event is missing")
    if not isinstance(body.get("payload"), dict):
        raise WebhookFormatError("payload is missing")
    return name


def parse_event(body: Any) -> ParsedDelivery | None:
    """Return the delivery's domain events, or None for an event the service does not use."""
    name = event_name(body)
    handler = HANDLERS.get(name)
    if handler is None:
        return None
    payload = body["payload"]
    obj = payload if name in FLAT_PAYLOADS else payload.get("object")
    if not isinstance(obj, dict):
        raise WebhookFormatError("payload.object is missing")
    raw_ts = body.get("event_ts")
    if raw_ts is not None and (isinstance(raw_ts, bool) or not isinstance(raw_ts, (int, float))):
        raise WebhookFormatError("event_ts is not a number")
    try:
        ts = from_epoch_ms(raw_ts) if raw_ts is not None else None
    except (OverflowError, OSError, ValueError):
        raise WebhookFormatError("event_ts is out of range") from None
    meeting = _meeting_ref(obj, plan_only=name in SCHEDULING_EVENTS)
    event = dataclasses.replace(handler(meeting, obj, ts), raw=body)
    return ParsedDelivery(name, meeting, (event,))
