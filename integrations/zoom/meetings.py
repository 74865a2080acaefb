"""Read a Zoom meeting's plan (from the API or a scheduling webhook) as platform-neutral occurrences."""
from __future__ import annotations

from typing import Any, Mapping

from bot.core.events import Occurrence

SCHEDULED = 2
RECURRING_NO_FIXED_TIME = 3
RECURRING = 8


def _minutes(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def meeting_type(meeting: Mapping[str, Any]) -> int | None:
    """Return the meeting's Zoom type (1 instant, 2 scheduled, 3 and 8 recurring), or None if not sent."""
    value = meeting.get("type")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_recurring(meeting: Mapping[str, Any]) -> bool:
    """Return whether the meeting repeats."""
    return meeting_type(meeting) in (RECURRING, RECURRING_NO_FIXED_TIME)


def listed_occurrences(meeting: Mapping[str, Any]) -> tuple[Occurrence, ...]:
    """Return the occurrences the object lists explicitly (deleted ones left out)."""
    listed = meeting.get("occurrences")
    if not isinstance(listed, list):
        return ()
    default = _minutes(meeting.get("duration"))
    return tuple(
        Occurrence(str(o["start_time"]), _minutes(o.get("duration")) or default, str(o.get("occurrence_id") or ""))
        for o in listed
        if isinstance(o, dict) and o.get("start_time") and o.get("status") != "deleted"
    )


def occurrences(meeting: Mapping[str, Any]) -> tuple[Occurrence, ...]:
    """Return when the meeting is planned: each occurrence of a recurring one, else its start."""
    if is_recurring(meeting):
        return listed_occurrences(meeting)
    if meeting_type(meeting) == SCHEDULED and meeting.get("start_time"):
        return (Occurrence(str(meeting["start_time"]), _minutes(meeting.get("duration"))),)
    return ()


def plan_is_complete(meeting: Mapping[str, Any], created: bool) -> bool:
    """Return whether the object alone says when every occurrence is (else ask the API).

    A new meeting lists all its occurrences; an update sends only what changed.
    """
    if meeting_type(meeting) == SCHEDULED and meeting.get("start_time"):
        return True
    return created and is_recurring(meeting) and bool(listed_occurrences(meeting))
