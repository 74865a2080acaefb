"""Parse a decrypted meetingCallEvents payload, and turn a roster change into the same domain events as Zoom's."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from bot.core import events as ev
from bot.core.timefmt import from_iso

CALL = "call"  # where a participant is: in the meeting call, in its lobby, or neither (None)
LOBBY = "lobby"
MAX_ID_CHARS = 255
MAX_PARTICIPANTS = 500


class CallEventFormatError(ValueError):
    """A decrypted payload that is not what Graph sends; the message names the field, never its value."""


@dataclass(frozen=True)
class RosterEntry:
    """One participant of a roster change: who, and where they are now (CALL, LOBBY, or None: gone).

    `application_id` is set for an application in the call (a bot, ours among them), never for a person.
    """

    participant: ev.ParticipantRef
    place: str | None
    application_id: str = ""


@dataclass(frozen=True)
class CallEvent:
    """One meeting call event: `callStarted`, `callEnded` or `rosterUpdated`, with its time and roster change."""

    name: str
    at: datetime
    roster: tuple[RosterEntry, ...] = ()


# Older payloads name the event `Microsoft.Communication.CallStarted` and so on; the current ones `callStarted`.
NAMES = {
    "callstarted": "callStarted",
    "callended": "callEnded",
    "rosterupdated": "rosterUpdated",
    "callrosterupdate": "rosterUpdated",
}


def _field(obj: Mapping[str, Any], name: str) -> Any:
    """Return a field whatever its case (older payloads write `Identity`, `User`, `DisplayName`)."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    return next((v for k, v in obj.items() if isinstance(k, str) and k.lower() == lowered), None)


def _text(value: Any, limit: int = MAX_ID_CHARS) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        return ""
    text = str(value).replace("\x00", "").strip()
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace") if not text.isascii() else text
    if len(text) > limit:
        raise CallEventFormatError(f"an id or name is longer than {limit} characters")
    return text


def _identity(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    info = _field(entry, "info")
    identity = _field(info, "identity") if isinstance(info, dict) else _field(entry, "identity")
    return identity if isinstance(identity, dict) else {}


def application_id(entry: Mapping[str, Any]) -> str:
    """Return the app id of a participant that is an application (`identity.application.id`), else ""."""
    application = _field(_identity(entry), "application")
    return _text(_field(application, "id")) if isinstance(application, dict) else ""


def participant_ref(entry: Mapping[str, Any]) -> ev.ParticipantRef:
    """Return who a participant entry is (a meeting event's roster, or a calling bot's): the per-join participant id, and the Entra object id of a signed-in user."""
    identity = _identity(entry)
    user = _field(identity, "user")
    someone = user if isinstance(user, dict) else next((v for v in identity.values() if isinstance(v, dict)), {})
    entra_id = _text(_field(user, "id")) if isinstance(user, dict) else ""
    return ev.ParticipantRef(
        user_id=_text(_field(entry, "id")),
        stable_id=entra_id,
        account_id=entra_id,
        name=_text(_field(someone, "displayName")),
    )


def _roster(payload: Mapping[str, Any]) -> tuple[RosterEntry, ...]:
    entries: list[tuple[Any, bool]] = []
    for key, gone in (("participants@delta", False), ("activeParticipants@joined", False), ("activeParticipants@exited", True)):
        listed = _field(payload, key)
        if listed is None:
            continue
        if not isinstance(listed, list) or len(listed) > MAX_PARTICIPANTS:
            raise CallEventFormatError(f"{key} is not a list of participants")
        entries += [(entry, gone) for entry in listed]
    roster = []
    for entry, gone in entries:
        if not isinstance(entry, dict):
            raise CallEventFormatError("a participant is not an object")
        participant = participant_ref(entry)
        if not participant.user_id:
            raise CallEventFormatError("a participant has no id")
        removed = gone or _field(entry, "removedState") is not None
        place = None if removed else LOBBY if _field(entry, "isInLobby") is True else CALL
        roster.append(RosterEntry(participant, place, application_id(entry)))
    return tuple(roster)


def without_application(call: CallEvent, app_id: str) -> CallEvent:
    """Return the call event without the participant that is the application `app_id` (the service's own bot)."""
    if not app_id or not any(entry.application_id == app_id for entry in call.roster):
        return call
    return CallEvent(call.name, call.at, tuple(entry for entry in call.roster if entry.application_id != app_id))


def parse_call_event(payload: Any) -> CallEvent | None:
    """Return the call event a decrypted payload holds, or None for an event the service does not use."""
    if not isinstance(payload, dict):
        raise CallEventFormatError("the content is not a JSON object")
    raw_name = _field(payload, "eventType") or _field(payload, "callEventType")
    if not isinstance(raw_name, str) or not raw_name:
        raise CallEventFormatError("eventType is missing")
    name = NAMES.get(raw_name.strip("{}").rpartition(".")[2].lower())
    if name is None:
        return None
    stamp = _field(payload, "eventDateTime")
    try:
        at = from_iso(stamp) if isinstance(stamp, str) else None
    except ValueError:
        at = None
    if at is None:
        raise CallEventFormatError("eventDateTime is not an ISO 8601 time")
    return CallEvent(name, at, _roster(payload) if name == "rosterUpdated" else ())


def roster_events(meeting: ev.MeetingRef, at: datetime, entry: RosterEntry, was: str | None) -> list[ev.MeetingEvent]:
    """Return the domain events of one participant moving from `was` to where the entry says they are now."""
    now, who = entry.place, entry.participant
    if now is None and was is None:
        # A leave that came before its join: kept, since the session is built in time order, not arrival order.
        return [ev.ParticipantLeft(meeting=meeting, at=at, participant=who)]
    if now == was:
        return []  # unchanged (muted, renamed, or the same change delivered again)
    moves: list[type[ev.ParticipantEvent]] = []
    if was == CALL:
        moves.append(ev.ParticipantLeft)
    elif was == LOBBY:
        moves.append(ev.ParticipantAdmitted if now == CALL else ev.WaitingRoomLeft)
    if now == CALL:
        moves.append(ev.ParticipantJoined)
    elif now == LOBBY:
        moves.append(ev.WaitingRoomJoined)
    return [cls(meeting=meeting, at=at, participant=who) for cls in moves]


_LEAVING = (ev.ParticipantLeft, ev.WaitingRoomLeft, ev.ParticipantAdmitted)


def places(events: list[ev.MeetingEvent]) -> dict[str, str]:
    """Return where each participant (by participant id) is after a session's stored events, in time order."""
    where: dict[str, str] = {}
    # At one instant a participant's leaving comes before their arriving (out of the call, into the lobby).
    for event in sorted(events, key=lambda e: (e.at, not isinstance(e, _LEAVING))):
        if not isinstance(event, ev.ParticipantEvent) or not event.participant.user_id:
            continue
        pid = event.participant.user_id
        if isinstance(event, ev.ParticipantJoined):
            where[pid] = CALL
        elif isinstance(event, ev.WaitingRoomJoined):
            where[pid] = LOBBY
        elif isinstance(event, _LEAVING):
            where.pop(pid, None)
    return where
