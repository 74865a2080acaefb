"""When repeated wrong passwords lock an account out of the pages, and for how long."""
from __future__ import annotations

from datetime import datetime, timedelta

LOCK_AFTER_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKED_FOR = timedelta(minutes=15)


def lock_until(failures_in_window: int, now: datetime) -> datetime | None:
    """Return until when an account is locked after this many failures within the window, or None."""
    return now + LOCKED_FOR if failures_in_window >= LOCK_AFTER_FAILURES else None
