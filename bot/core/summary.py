"""Build the factual post-call summary, as the JSON document every other format renders."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from .alerts import Alert
from .pseudonyms import role_labels
from .record import ChecklistItem, FramingChange, Note
from .session import MeetingState
from .timefmt import seconds_between, to_iso


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


def build_summary(
    record: SessionRecord, state: MeetingState, alerts: Sequence[Alert], now: datetime, names: bool = False
) -> dict[str, Any]:
    """Return the summary document; an unfinished session is summarised as of `now`.

    People are named by role ("Therapist", the client's code, "Other person 1") and the meeting's topic
    is never shown. With `names` (the therapist's own screens, if they opted in) each person also
    carries the `display_name` the meeting showed, when it was kept.
    """
    meeting = state.meeting
    end = state.ended_at
    off = state.video_off
    off_seconds = [i.seconds(end or now) for i in off]
    people = state.roster.people
    label = dict(zip(map(id, people), role_labels([p.role for p in people], record.client_code), strict=True))
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
                "name": label[id(p)],
                "role": p.role,
                "intervals": [{"joined_at": to_iso(i.joined_at), "left_at": to_iso(i.left_at)} for i in p.intervals],
                **shown_name(p),
            }
            for p in people
        ],
        "client_video": {
            "off_intervals": [
                {"start": to_iso(i.start), "end": to_iso(i.end), "seconds": s} for i, s in zip(off, off_seconds, strict=True)
            ],
            "off_count": len(off),
            "off_total_seconds": sum(off_seconds),
            "longest_off_seconds": max(off_seconds, default=0),
        },
        "alerts": [{"at": to_iso(a.at), "kind": a.kind, "message": a.message} for a in alerts],
        "framing_changes": [
            {
                "id": f.id,
                "at": to_iso(f.at),
                "kind": f.kind,
                "detail": f.detail,
                "source": f.source,
                "prompt_id": f.prompt_id,
                "note": f.note,
            }
            for f in record.framing_changes
        ],
        # Nothing may look settled that was not: changes without a note are counted, not hidden.
        "unanswered_changes": sum(1 for f in record.framing_changes if f.note is None),
        "checklist": checklist_json(record.checklist),
        "notes": [{"at": to_iso(n.at), "text": n.text, "prompt_id": n.prompt_id} for n in record.notes],
        "timeline": [
            {
                "at": to_iso(t.at),
                "event": t.event,
                "role": t.person.role if t.person else None,
                "name": label[id(t.person)] if t.person else None,
            }
            for t in state.timeline
        ],
    }
    summary.update(record.extra)
    return summary
