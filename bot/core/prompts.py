"""Word the note prompts: a question to the therapist about each change of the client's camera or framing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .changes import CAMERA, THERAPIST, Change, span_words
from .timefmt import clock_text
from .video import CLIENT_LEFT, MEETING_ENDED

NOTE_PROMPT = "note_prompt"
# What the framing analysis saw, hedged: it is a machine's guess, and the product judges nothing.
SEEN = {
    "face_lost": "The client's face seems to be out of view",
    "face_returned": "The client's face seems to be back in view",
    "hands_out_of_view": "The client's hands seem to be out of view",
    "hands_in_view": "The client's hands seem to be back in view",
    "lying_down": "The client seems to be lying down",
    "upright": "The client seems to be sitting up again",
    "camera_covered": "The client's camera seems to be covered",
    "camera_uncovered": "The client's camera seems to be uncovered again",
    "frozen": "The client's video seems to have frozen",
    "unfrozen": "The client's video seems to be moving again",
    "scene_changed": "The client's surroundings seem to have changed",
    "moved_away": "The client seems to have moved away from the camera",
    "moved_closer": "The client seems to have moved closer to the camera",
}
_WHY_IT_CLOSED = {CLIENT_LEFT: ", until they left", MEETING_ENDED: ", until the meeting ended"}


@dataclass(frozen=True)
class PromptSettings:
    camera_off_min_seconds: int = 20  # a shorter camera-off interval is in the record but asks nothing


@dataclass(frozen=True)
class NotePrompt:
    """A question about one change; `key` raises it once, and its notice's id is the prompt_id a note answers."""

    key: str
    change_id: str
    at: datetime
    message: str


def prompt_key(session_id: str, change_id: str) -> str:
    """Return the notice key of the prompt about a change (one per change)."""
    return f"{session_id}:{NOTE_PROMPT}:{change_id}"


def asks(change: Change, settings: PromptSettings) -> bool:
    """Return whether a change earns a prompt: a framing change always, a camera-off interval once over and long enough."""
    if change.source != CAMERA:
        return True
    return change.until is not None and change.seconds >= settings.camera_off_min_seconds


def note_prompt(session_id: str, change: Change, zone: str) -> NotePrompt:
    """Return the prompt about a change, worded for the therapist with times in their zone."""
    if change.source == CAMERA and change.until is not None:
        times = f"{clock_text(change.at, zone)}-{clock_text(change.until, zone)}"
        why = _WHY_IT_CLOSED.get(change.ended_by, "")
        message = f"The client's camera was off for {span_words(change.seconds)} ({times}){why}. What were they doing?"
    elif change.source == THERAPIST:
        message = f"You marked a change at {clock_text(change.at, zone)}: {change.kind.replace('_', ' ')}. Anything to note?"
    else:
        seen = SEEN.get(change.kind, "The client's framing seems to have changed")
        message = f"{seen} ({clock_text(change.at, zone)}). Anything to note?"
    return NotePrompt(prompt_key(session_id, change.id), change.id, change.at, message)
