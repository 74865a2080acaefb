"""Which event times the service believes: from the year 2000 to two years ahead of now."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import TypeVar

from . import events as ev
from .timefmt import from_iso

EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
AHEAD = timedelta(days=2 * 366)
Event = TypeVar("Event", bound=ev.MeetingEvent)


class EventRejected(ValueError):
    """An event no platform could truly have sent; the message names the field, never its value."""


def believable(at: datetime, now: datetime) -> bool:
    """Return whether `at` lies in the window the service accepts around `now`."""
    return EARLIEST <= at <= now + AHEAD


def _time_text_ok(text: str, now: datetime) -> bool:
    try:
        return believable(from_iso(text), now)
    except ValueError:
        return False


def accepted(event: Event, now: datetime) -> Event:
    """Return the event as the service keeps it, or raise EventRejected if its own time is not believable.

    A planned start that cannot be read is dropped from a `meeting_started` (the rest of it is good).
    A change of plan is judged by its occurrence times, which are all it leaves behind: one that cannot
    be read refuses it, since what it moves or cancels depends on them.
    """
    if isinstance(event, ev.SchedulingEvent):
        occurrences = getattr(event, "occurrences", ())
        if not all(_time_text_ok(o.start, now) for o in occurrences):
            raise EventRejected(f"an occurrence of the {event.kind} is not a believable ISO 8601 time")
        return event
    if not believable(event.at, now):
        raise EventRejected(f"the {event.kind} time is outside {EARLIEST.year} to two years from now")
    if isinstance(event, ev.MeetingStarted) and event.scheduled_start and not _time_text_ok(event.scheduled_start, now):
        return dataclasses.replace(event, scheduled_start="")
    return event
