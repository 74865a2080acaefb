"""How long the record is kept: the purge's cut-off, its one row a day, and which sessions count as ended before it."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from .due_work import RETENTION_PURGE, SERVICE, DueWork
from .timefmt import from_iso


def cutoff(now: datetime, retention_days: int) -> datetime:
    """Return the instant before which an ended session is no longer kept."""
    return now - timedelta(days=retention_days)


def purge_work(now: datetime) -> DueWork:
    """Return the purge of `now`'s day (UTC), due at the day's start: the same key on every instance, so it runs once."""
    day = now.astimezone(timezone.utc).date()
    return DueWork(f"{RETENTION_PURGE}:{day.isoformat()}", RETENTION_PURGE, datetime.combine(day, time(), timezone.utc), SERVICE)


def session_end(last_reported_end: str | None, first_close: str | None) -> datetime | None:
    """Return when a session ended, as its summary says: the last end the platform reported, else the watchdog's close.

    None: it has not ended (or its end cannot be read), and such a session is never purged.
    """
    stamp = last_reported_end or first_close
    try:
        return from_iso(stamp) if stamp else None
    except ValueError:
        return None


def ended_before(last_reported_end: str | None, first_close: str | None, limit: datetime) -> bool:
    """Return whether a session ended before `limit`."""
    end = session_end(last_reported_end, first_close)
    return end is not None and end < limit
