"""Build the factual post-call summary, as the JSON document every other format renders."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from .alerts import Alert
from .pseudonyms import role_labels
from .record import ChecklistItem, FramingChange, Note
from .session import MeetingState, TimelineEntry
from .timefmt import seconds_between, to_iso
from .video import VideoOffInterval


@dataclass(frozen=True)
class SessionRecord:
    """The session's identity and the therapist's own additions, beside the meeting state."""

    session_id: str
    therapist_id: str
    client_code: str | None = None
    checklist: Sequence[ChecklistItem] = ()
    notes: Sequence[Note] = ()
    framing_changes: Sequence[FramingChange] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def checklist_json(items: Sequence[ChecklistItem]) -> dict[str, Any]:
    """Return a checklist as the summary and the API show it."""
    return {
        "total": len(items),
        "confirmed": sum(1 for item in items if item.confirmed_at is not None),
        "items": [{"id": i.id, "text": i.text, "confirmed_at": to_iso(i.confirmed_at)} for i in items],
    }


@dataclass(frozen=True)
class SummaryRows:
    """The summary's long lists, each row built apart (a live session's are kept and reused: read them, never change them)."""

    off_intervals: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    framing_changes: list[dict[str, Any]]
    timeline: list[dict[str, Any]]


def build_summary(
    record: SessionRecord, state: MeetingState, alerts: Sequence[Alert], now: datetime, names: bool = False
) -> dict[str, Any]:
    """Return the summary document, built whole; an unfinished session is summarised as of `now`.

    People are named by role ("Therapist", the client's code, "Other person 1") and the meeting's topic
    is never shown. With `names` (the therapist's own screens, if they opted in) each person also
    carries the `display_name` the meeting showed, when it was kept.
    """
    labels = people_labels(state, record.client_code)
    end = state.ended_at
    rows = SummaryRows(
        off_intervals=[off_row(i, i.seconds(end or now)) for i in state.video_off],
        alerts=[alert_row(a) for a in alerts],
        framing_changes=[change_row(f) for f in record.framing_changes],
        timeline=[timeline_row(t, labels) for t in state.timeline],
    )
    return summary_document(record, state, labels, rows, names)


def people_labels(state: MeetingState, client_code: str | None) -> dict[int, str]:
    """Return how the summary names each person of the roster, by the person's id()."""
    people = state.roster.people
    return dict(zip(map(id, people), role_labels([p.role for p in people], client_code), strict=True))


def off_row(interval: VideoOffInterval, seconds: int) -> dict[str, Any]:
    """Return a video-off interval as the summary shows it, `seconds` long (so far)."""
    return {"start": to_iso(interval.start), "end": to_iso(interval.end), "seconds": seconds}


def alert_row(alert: Alert) -> dict[str, Any]:
    """Return an alert as the summary shows it."""
    return {"at": to_iso(alert.at), "kind": alert.kind, "message": alert.message}


def change_row(change: FramingChange) -> dict[str, Any]:
    """Return a camera or framing change, with its prompt and note, as the summary shows it."""
    return {
        "id": change.id,
        "at": to_iso(change.at),
        "kind": change.kind,
        "detail": change.detail,
        "source": change.source,
        "prompt_id": change.prompt_id,
        "note": change.note,
    }


def timeline_row(entry: TimelineEntry, labels: dict[int, str]) -> dict[str, Any]:
    """Return a timeline entry as the summary shows it, its person named by `labels` (see people_labels)."""
    person = entry.person
    return {
        "at": to_iso(entry.at),
        "event": entry.event,
        "role": person.role if person else None,
        "name": labels[id(person)] if person else None,
    }


def summary_document(record: SessionRecord, state: MeetingState, labels: dict[int, str], rows: SummaryRows, names: bool) -> dict[str, Any]:
    """Return the summary document from its rows (see build_summary): their lists become the summary's own."""
    meeting = state.meeting
    end = state.ended_at
    off_seconds = [r["seconds"] for r in rows.off_intervals]
    shown_name = (lambda person: {"display_name": person.name or None}) if names else (lambda person: {})  # noqa: E731
    summary: dict[str, Any] = {
        "session_id": record.session_id,
        "platform": meeting.platform,
        "meeting": {"id": meeting.meeting_id, "uuid": meeting.occurrence_id, "topic": None},
        "therapist_id": record.therapist_id,
        "client_code": record.client_code,
        "status": "ended" if state.ended else "in_progress",
        "started_at": to_iso(state.started_at),
        "ended_at": to_iso(end),
        "closed_by_watchdog": state.closed_by_watchdog,  # no end was reported: ended_at is the watchdog's
        "duration_seconds": seconds_between(state.started_at, end) if state.started_at and end else None,
        "participants": [
            {
                "name": labels[id(p)],
                "role": p.role,
                "intervals": [{"joined_at": to_iso(i.joined_at), "left_at": to_iso(i.left_at)} for i in p.intervals],
                **shown_name(p),
            }
            for p in state.roster.people
        ],
        "client_video": {
            "off_intervals": rows.off_intervals,
            "off_count": len(off_seconds),
            "off_total_seconds": sum(off_seconds),
            "longest_off_seconds": max(off_seconds, default=0),
        },
        "alerts": rows.alerts,
        "framing_changes": rows.framing_changes,
        # Nothing may look settled that was not: changes without a note are counted, not hidden.
        "unanswered_changes": sum(1 for f in rows.framing_changes if f["note"] is None),
        "checklist": checklist_json(record.checklist),
        "notes": [{"at": to_iso(n.at), "text": n.text, "prompt_id": n.prompt_id} for n in record.notes],
        "timeline": rows.timeline,
    }
    summary.update(record.extra)
    return summary
