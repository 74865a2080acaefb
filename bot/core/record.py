"""What the therapist adds to a session's record: checklist ticks, notes and framing changes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ChecklistItem:
    """One pre-call checklist point and when the therapist confirmed it (None: not yet)."""

    id: str
    text: str
    confirmed_at: datetime | None = None


@dataclass(frozen=True)
class Note:
    """A short note in the therapist's own words, optionally answering a prompt."""

    at: datetime
    text: str
    prompt_id: str | None = None


@dataclass(frozen=True)
class FramingChange:
    """A change of the client's camera or framing, with the therapist's note against it (None: unanswered)."""

    at: datetime
    kind: str
    detail: str
    note: str | None = None
    id: str = ""
    source: str = ""  # camera, analysis or therapist
    prompt_id: str | None = None  # the note prompt that asked about it (None: none raised)
