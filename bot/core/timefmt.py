"""Turn timestamps into UTC datetimes and back into the ISO 8601 `...Z` form the summary uses."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import overload
from zoneinfo import ZoneInfo


@overload
def to_iso(at: datetime) -> str: ...


@overload
def to_iso(at: datetime | None) -> str | None: ...


def to_iso(at: datetime | None) -> str | None:
    """Return `at` as ISO 8601 UTC ending in `Z`, to the second (None stays None)."""
    return None if at is None else _iso(at)


@lru_cache(maxsize=1 << 15)  # a summary writes thousands, most of them the instants the last summary wrote
def _iso(at: datetime) -> str:
    # Equal instants hash alike whatever their zone, and have one UTC text: the cache may answer for either.
    at = at.astimezone(timezone.utc)
    # As strftime("%Y-%m-%dT%H:%M:%SZ") writes it, at a tenth of its cost; it leaves a year below 1000 unpadded.
    if at.year < 1000:
        return f"{at.year}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}:{at.second:02d}Z"
    return at.isoformat(timespec="seconds")[:19] + "Z"


def to_stamp(at: datetime) -> str:
    """Return `at` as a fixed-width UTC text that sorts in time order (kept in the database)."""
    # The year padded, as isoformat writes it (strftime writes year 1 as "1", which sorts wrong).
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")[:26] + "Z"


def from_iso(text: str) -> datetime:
    """Parse an ISO 8601 timestamp into an aware UTC datetime; naive means UTC."""
    if (dash := text.find("-")) in (1, 2, 3) and text[:dash].isdigit():  # a year written unpadded by older versions
        text = text[:dash].zfill(4) + text[dash:]
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc)


def from_epoch_ms(ms: int | float) -> datetime:
    """Return the UTC datetime of a millisecond epoch timestamp."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def local_text(at: datetime | None, zone: str) -> str:
    """Return `at` in the therapist's time zone, as the Markdown and HTML summaries show it."""
    if at is None:
        return "—"
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def clock_text(at: datetime, zone: str) -> str:
    """Return `at` as hours and minutes in the therapist's time zone, as a short message shows it."""
    local = at.astimezone(ZoneInfo(zone))
    return f"{local.hour:02d}:{local.minute:02d}"  # strftime's cost shows in a picture of a thousand bars


def seconds_between(start: datetime, end: datetime) -> int:
    """Return whole seconds from `start` to `end` (never negative)."""
    return max(0, int(round((end - start).total_seconds())))


def day_text(at: datetime, zone: str) -> str:
    """Return `at` as the day, month and time in the therapist's time zone, where hours alone are ambiguous."""
    return at.astimezone(ZoneInfo(zone)).strftime("%d %b %H:%M")
