"""Work that falls due later (reminders, video-off checks, watchdogs), described as plain rows."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

CHECKLIST_REMINDER = "checklist_reminder"
VIDEO_OFF_CHECK = "video_off_check"
WATCHDOG = "watchdog"
NOTICE_SETTLE = "notice_settle"  # a session notice waiting for the meeting's deliveries to settle
RETENTION_PURGE = "retention_purge"  # the day's purge of sessions past the retention limit: one row a day, for every instance
SERVICE = ""  # the therapist id of work that is the whole service's, not one therapist's

FIRED = "fired"
CANCELLED = "cancelled"
EXPIRED = "expired"  # came due too late to mean anything (the meeting was already over)
SKIPPED = "skipped"  # nothing left to do when it came due


@dataclass(frozen=True)
class DueWork:
    """One piece of work and when it falls due; `key` is unique, so planning it twice is harmless."""

    key: str
    kind: str
    due_at: datetime
    therapist_id: str
    session_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DueRow:
    """A stored piece of due work; pending while `done_at` is None."""

    id: int
    work: DueWork
    done_at: datetime | None = None
    outcome: str | None = None

    @property
    def pending(self) -> bool:
        return self.done_at is None


@dataclass(frozen=True)
class NoticeSpec:
    """A notice to raise in the same transaction that marks due work done."""

    therapist_id: str
    session_id: str | None
    kind: str
    key: str
    at: datetime
    message: str


def video_off_key(session_id: str, due: datetime) -> str:
    """Return the key of the video-off check of `session_id` due at `due` (one per due time)."""
    return f"{VIDEO_OFF_CHECK}:{session_id}:{due.strftime('%Y%m%dT%H%M%S')}"


def watchdog_key(session_id: str) -> str:
    """Return the key of a session's watchdog (one per session; its due time moves)."""
    return f"{WATCHDOG}:{session_id}"


def notice_settle_key(session_id: str, kind: str) -> str:
    """Return the key of the wait of a session's notice of `kind` (one per notice; its due time moves)."""
    return f"{NOTICE_SETTLE}:{session_id}:{kind}"
