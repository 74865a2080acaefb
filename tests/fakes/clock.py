"""A clock that moves only when a test moves it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone


class ManualClock:
    """Call it for the time; `advance` moves it on."""

    def __init__(self, start: datetime = datetime(2025, 3, 4, 15, 0, tzinfo=timezone.utc)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move the clock on by `seconds` and return the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now
