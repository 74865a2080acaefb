"""List the changes of the client's camera and framing in a session: what the record shows and the prompts ask about."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Sequence

from .events import FramingChanged
from .record import FramingChange, Note
from .session import MeetingState
from .timefmt import to_stamp
from .video import CAMERA_ON, CLIENT_LEFT, MEETING_ENDED

CAMERA_OFF = "camera_off"
CAMERA, ANALYSIS, THERAPIST = "camera", "analysis", "therapist"  # where a change comes from
_UNTIL = {CAMERA_ON: "the camera came back on", CLIENT_LEFT: "the client left", MEETING_ENDED: "the meeting ended"}


@dataclass(frozen=True)
class Change:
    """One change: an interval with the client's camera off, or a framing change (one of FRAMING_CHANGES)."""

    id: str
    at: datetime
    kind: str
    detail: str
    source: str
    until: datetime | None = None  # camera: when the interval closed (None while the camera is still off)
    ended_by: str = ""  # camera: what closed it
    seconds: int = 0  # camera: how long it was off (so far)


def span_words(seconds: int) -> str:
    """Return a length of time as a therapist reads it: "45 s", "3 min", "3 min 20 s"."""
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")


def framing_change_id(event: FramingChanged) -> str:
    """Return the id of a framing change in the record (and in its prompt's key)."""
    return f"framing:{event.source}:{event.change}:{to_stamp(event.at)}"


def session_changes(state: MeetingState, now: datetime) -> list[Change]:
    """Return the session's changes in time order: each camera-off interval and each framing change."""
    changes = sorted(changes_found(state, now), key=change_order)
    # Two changes alike to the microsecond would share an id (and a prompt): number the repeats.
    seen: dict[str, int] = {}
    for n, change in enumerate(changes):
        count = seen[change.id] = seen.get(change.id, 0) + 1
        changes[n] = repeated(change, count)
    return changes


def changes_found(state: MeetingState, now: datetime) -> list[Change]:
    """Return the session's changes as found, the camera's then the framing's, repeats not yet numbered (see session_changes)."""
    changes = []
    for interval in state.video_off:
        seconds = interval.seconds(now)
        until = f"until {_UNTIL[interval.ended_by]}" if interval.end is not None else "so far"
        detail = f"off for {span_words(seconds)}, {until}"
        change_id = f"{CAMERA_OFF}:{to_stamp(interval.start)}"
        changes.append(Change(change_id, interval.start, CAMERA_OFF, detail, CAMERA, interval.end, interval.ended_by, seconds))
    for event in state.framing:
        changes.append(Change(framing_change_id(event), event.at, event.change, event.detail, event.source))
    return changes


def change_order(change: Change) -> tuple[datetime, str]:
    """Return what orders the changes: their time, then their id (alike only for repeats, kept in the order found)."""
    return change.at, change.id


def repeated(change: Change, count: int) -> Change:
    """Return the `count`th change alike to the microsecond, its id numbered (the first keeps its own)."""
    if count == 1:
        return change
    facts = change.at, change.kind, change.detail, change.source, change.until, change.ended_by, change.seconds
    return Change(f"{change.id}#{count}", *facts)


def with_notes(changes: Sequence[Change], prompt_ids: Mapping[str, int], notes: Sequence[Note]) -> list[FramingChange]:
    """Return the changes as the record shows them: each with its prompt's id and the notes answering it."""
    answers = note_answers(notes)
    return [shown(change, *answer_to(change.id, prompt_ids, answers)) for change in changes]


def note_answers(notes: Sequence[Note]) -> dict[str, str]:
    """Return the text of the notes answering each prompt, by the prompt's id (several, one a line)."""
    answers: dict[str, list[str]] = {}
    for note in notes:
        if note.prompt_id is not None:
            answers.setdefault(note.prompt_id, []).append(note.text)
    return {prompt_id: "\n".join(texts) for prompt_id, texts in answers.items()}


def answer_to(change_id: str, prompt_ids: Mapping[str, int], answers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """Return the id of the change's prompt (None: none raised) and the note answering it (None: none)."""
    if change_id not in prompt_ids:
        return None, None
    prompt_id = str(prompt_ids[change_id])
    return prompt_id, answers.get(prompt_id) or None


def shown(change: Change, prompt_id: str | None, note: str | None) -> FramingChange:
    """Return a change as the record shows it, with its prompt's id and note."""
    return FramingChange(change.at, change.kind, change.detail, note, change.id, change.source, prompt_id)
