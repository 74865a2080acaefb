"""Read from a summary what its timeline picture shows: the window of time, the presence rows and the marker rows."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable, Iterable

from .timefmt import clock_text, from_iso

MAX_OTHER_ROWS = 3  # more people than this share one row


@dataclass(frozen=True)
class PresenceRow:
    """A row of bars: someone's presence, or the client's video off."""

    label: str
    kind: str  # `therapist`, `client`, `video-off` or `other`: its class and colour
    spans: list[tuple[datetime, datetime | None]]  # None: still open at the window's end


@dataclass(frozen=True)
class MarkerRow:
    """A row of markers at instants, each with what happened then."""

    label: str
    kind: str  # `alert`, `change` or `note`
    marks: list[tuple[datetime, str]]


def instant(value: object) -> datetime | None:
    """Return a summary time as a datetime; a missing or unreadable one is None (never an error)."""
    return _parsed(value) if isinstance(value, str) and value else None


@lru_cache(maxsize=8192)  # a summary repeats its times (presence, timeline, alerts): parse each once
def _parsed(text: str) -> datetime | None:
    try:
        return from_iso(text)
    except (ValueError, OverflowError):
        return None


def _items(summary: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = summary.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _off_intervals(summary: dict[str, Any]) -> list[dict[str, Any]]:
    video = summary.get("client_video")
    return _items(video, "off_intervals") if isinstance(video, dict) else []


def _off_end(interval: dict[str, Any]) -> datetime | None:
    """Return when an off-interval ended; an open one ends `seconds` after its start (the summary's `now`)."""
    start, seconds, end = instant(interval.get("start")), interval.get("seconds"), instant(interval.get("end"))
    if end is None and start is not None and isinstance(seconds, int) and 0 <= seconds < 10**8:
        end = start + timedelta(seconds=seconds)
    return end


def _every_instant(summary: dict[str, Any]) -> Iterable[datetime | None]:
    for person in _items(summary, "participants"):
        for interval in _items(person, "intervals"):
            yield instant(interval.get("joined_at"))
            yield instant(interval.get("left_at"))
    for interval in _off_intervals(summary):
        yield instant(interval.get("start"))
        yield _off_end(interval)
    for key in ("alerts", "framing_changes", "notes", "timeline"):
        yield from (instant(item.get("at")) for item in _items(summary, key))


def drawn_window(summary: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """Return the session's start and end or, while it is live, the last instant its summary knows (None: no times)."""
    start, end = instant(summary.get("started_at")), instant(summary.get("ended_at"))
    if start is None or end is None:  # live, or its start unknown: the summary's own times bound it
        known = [at for at in _every_instant(summary) if at is not None]
        start = start or min(known, default=None)
        end = end or max(known, default=start)
    if start is None or end is None:
        return None
    return start, max(start, end)


def presence_rows(summary: dict[str, Any]) -> list[PresenceRow]:
    """Return the therapist's and the client's presence, the client's video off, and a row per other person (many share one)."""
    def spans(people: list[dict[str, Any]]) -> list[tuple[datetime, datetime | None]]:
        found = []
        for person in people:
            for interval in _items(person, "intervals"):
                if (joined := instant(interval.get("joined_at"))) is not None:
                    found.append((joined, instant(interval.get("left_at"))))
        return found

    people = _items(summary, "participants")
    by_role = {role: [p for p in people if p.get("role") == role] for role in ("therapist", "client")}
    others = [p for p in people if p.get("role") not in by_role]
    off = [(start, instant(i.get("end"))) for i in _off_intervals(summary) if (start := instant(i.get("start")))]
    rows = [
        PresenceRow("Therapist", "therapist", spans(by_role["therapist"])),
        PresenceRow(str(summary.get("client_code") or "Client"), "client", spans(by_role["client"])),
        PresenceRow("Video off", "video-off", off),
    ]
    if len(others) > MAX_OTHER_ROWS:
        return rows + [PresenceRow(f"{len(others)} others", "other", spans(others))]
    return rows + [PresenceRow(str(p.get("name") or f"Other person {n}"), "other", spans([p])) for n, p in enumerate(others, 1)]


def _change(item: dict[str, Any]) -> str:
    what = str(item.get("kind") or "change").replace("_", " ")
    return what + (f": {item['detail']}" if item.get("detail") else "") + (f". Note: {item['note']}" if item.get("note") else "")


def marker_rows(summary: dict[str, Any], zone: str) -> list[MarkerRow]:
    """Return the alerts, the camera and framing changes (with their notes), and the notes, each at its local time."""
    def marks(key: str, say: Callable[[dict[str, Any]], str]) -> list[tuple[datetime, str]]:
        return [(at, f"{clock_text(at, zone)} {say(item)}") for item in _items(summary, key) if (at := instant(item.get("at")))]

    return [
        MarkerRow("Alerts", "alert", marks("alerts", lambda a: str(a.get("message") or a.get("kind") or "alert"))),
        MarkerRow("Changes", "change", marks("framing_changes", _change)),
        MarkerRow("Notes", "note", marks("notes", lambda n: str(n.get("text") or ""))),
    ]
