"""Read the calling bot's callbacks (Graph commsNotifications): the call's state, and each participant's camera.

A participant's camera is on when one of their `mediaStreams` of type `video` is sending (`sendReceive` or
`sendOnly`); `receiveOnly`, `inactive` or no video stream at all is off.

Who a participant is: the same `ParticipantRef` the meeting's roster events get (events.py reads both), then
placed on the person the stored roster already knows. A signed-in user is matched by their Entra object id
(`info.identity.user.id`, the ref's `stable_id`), since the participant `id` of the calls API and of the
meeting's call events need not be the same; a guest (no Entra id) by the participant id, else by their display
name: the stored roster keeps only its keyed digest (bot/storage/at_rest.py), so the name heard is digested with
`[privacy] data_key` to compare. The camera change then carries the roster's participant id, so the core counts
both as one person.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

from bot.core import events as ev
from bot.core.digests import name_digest

from .events import CallEventFormatError, _field, _text, application_id, participant_ref

CALL_RESOURCE = re.compile(r"/(?:communications|app)/calls/([A-Za-z0-9._:-]{1,128})(/participants)?/?")
VIDEO_SENDING = frozenset({"sendreceive", "sendonly"})
CHANGE_TYPES = ("created", "updated", "deleted")
MAX_PARTICIPANTS = 500
MAX_STATE_CHARS = 32
KEY_PREFIX = "t1cam:"


class CallbackFormatError(CallEventFormatError):
    """A callback that is not what Graph sends; the message names the field, never its value."""


@dataclass(frozen=True)
class CallParticipant:
    """One participant as the bot sees them: who, whether their camera sends, and whether they are an application."""

    ref: ev.ParticipantRef
    camera_on: bool
    application_id: str = ""
    in_lobby: bool = False


@dataclass(frozen=True)
class CallState:
    """The bot's call: `establishing`, `established`, `terminating`, `terminated`...; and why it ended (resultInfo)."""

    state: str
    code: str = ""
    subcode: str = ""

    @property
    def result(self) -> str:
        return "/".join(c for c in (self.code, self.subcode) if c)


@dataclass(frozen=True)
class RosterUpdate:
    """Participants the notification lists: the whole roster (`complete`), or a delta (joined or changed, and gone)."""

    complete: bool
    sequence: int | None
    present: tuple[CallParticipant, ...] = ()
    gone: tuple[CallParticipant, ...] = ()


@dataclass(frozen=True)
class CallNotification:
    """One notification about the bot's call `call_id`: its state, or its roster."""

    call_id: str
    state: CallState | None = None
    roster: RosterUpdate | None = None


def camera_on(entry: Mapping[str, Any]) -> bool:
    """Return whether a participant's camera sends: a `video` media stream whose direction is sendReceive or sendOnly."""
    streams = _field(entry, "mediaStreams")
    if not isinstance(streams, list):
        return False
    for stream in streams:
        if not isinstance(stream, dict):
            continue
        kind, direction = _field(stream, "mediaType"), _field(stream, "direction")
        if isinstance(kind, str) and kind.lower() == "video" and isinstance(direction, str) and direction.lower() in VIDEO_SENDING:
            return True
    return False


def parse_participant(entry: Any) -> CallParticipant:
    """Return one participant of the calls API (a roster notification's, or `GET .../participants`)."""
    if not isinstance(entry, dict):
        raise CallbackFormatError("a participant is not an object")
    ref = participant_ref(entry)
    if not ref.user_id:
        raise CallbackFormatError("a participant has no id")
    return CallParticipant(ref, camera_on(entry), application_id(entry), _field(entry, "isInLobby") is True)


def participants(listed: Any) -> tuple[CallParticipant, ...]:
    """Return a list of participants, bounded."""
    if not isinstance(listed, list) or len(listed) > MAX_PARTICIPANTS:
        raise CallbackFormatError(f"participants must be a list of at most {MAX_PARTICIPANTS}")
    return tuple(parse_participant(entry) for entry in listed)


def _sequence(*holders: Any) -> int | None:
    for holder in holders:
        value = _field(holder, "sequenceNumber") if isinstance(holder, dict) else None
        if value is None:
            continue
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
            raise CallbackFormatError("sequenceNumber is not a whole number")
        return value
    return None


def _roster(change: str, notification: Mapping[str, Any], data: Any) -> RosterUpdate:
    """Read a participants notification: a list (the whole roster when `updated`), or a deltaParticipants object."""
    sequence = _sequence(notification, data)
    if isinstance(data, list):
        entries, complete = data, change == "updated"
    elif isinstance(data, dict) and _field(data, "participants") is not None:
        entries, complete = _field(data, "participants"), False  # deltaParticipants
    elif isinstance(data, dict):
        entries, complete = [data], False  # one participant
    else:
        raise CallbackFormatError("resourceData is not a participant list")
    listed = participants(entries)
    if change == "deleted":
        return RosterUpdate(False, sequence, (), listed)
    removed = [_field(entry, "removedState") is not None for entry in entries]
    present = tuple(p for p, gone in zip(listed, removed, strict=True) if not gone)
    return RosterUpdate(complete, sequence, present, tuple(p for p, gone in zip(listed, removed, strict=True) if gone))


def _state(data: Any) -> CallState | None:
    if not isinstance(data, dict):
        return None
    state = _field(data, "state")
    if not isinstance(state, str) or not state or len(state) > MAX_STATE_CHARS or not state.isascii():
        return None
    info = _field(data, "resultInfo")
    info = info if isinstance(info, dict) else {}
    return CallState(state.lower(), _text(_field(info, "code"), 16), _text(_field(info, "subcode"), 16))


def parse_callback(body: Any, limit: int) -> list[CallNotification]:
    """Return the notifications of a callback body (`{"value": [commsNotification, ...]}`) about calls and their participants.

    Notifications about anything else (content sharing, operations) are left out.
    """
    if not isinstance(body, dict) or not isinstance(body.get("value"), list) or not body["value"]:
        raise CallbackFormatError("value is not a list of notifications")
    if len(body["value"]) > limit:
        raise CallbackFormatError(f"value must hold 1 to {limit} notifications")
    found: list[CallNotification] = []
    for item in body["value"]:
        if not isinstance(item, dict):
            raise CallbackFormatError("a notification is not an object")
        url, change = _field(item, "resourceUrl"), _field(item, "changeType")
        change = change.lower() if isinstance(change, str) else "updated"
        match = CALL_RESOURCE.fullmatch(url) if isinstance(url, str) else None
        if match is None or change not in CHANGE_TYPES:
            continue
        call_id, data = match.group(1), _field(item, "resourceData")
        if match.group(2):
            found.append(CallNotification(call_id, roster=_roster(change, item, data)))
        elif (state := _state(data)) is not None:
            found.append(CallNotification(call_id, state=state))
    return found


def in_order(notifications: Iterable[CallNotification]) -> list[CallNotification]:
    """Return the notifications with the rosters of each call in sequence order (those without a number keep their place)."""
    listed = list(notifications)
    numbered = sorted((n for n in listed if n.roster is not None and n.roster.sequence is not None), key=lambda n: (n.call_id, n.roster.sequence))  # type: ignore[union-attr]
    queue = iter(numbered)
    return [next(queue) if n.roster is not None and n.roster.sequence is not None else n for n in listed]


def roster_refs(stored: Sequence[ev.MeetingEvent]) -> list[ev.ParticipantRef]:
    """Return who the session's stored roster events name, latest first (the camera's own events left out)."""
    refs = [e.participant for e in stored if isinstance(e, ev.ParticipantEvent) and not isinstance(e, ev.VideoStateChanged)]
    return list(reversed(refs))


def as_roster_person(ref: ev.ParticipantRef, known: Sequence[ev.ParticipantRef], data_key: str) -> ev.ParticipantRef:
    """Return `ref` with the participant id the stored roster knows the same person by (module docstring).

    `known` are refs as stored: a name by its keyed digest (under `data_key`), the name itself rarely or never.
    """
    match = None
    if ref.stable_id:
        match = next((k for k in known if k.stable_id == ref.stable_id), None)
    if match is None and ref.user_id:
        match = next((k for k in known if k.user_id == ref.user_id and (not ref.stable_id or not k.stable_id)), None)
    if match is None and not ref.stable_id and ref.name:
        digest = name_digest(ref.name, data_key)
        match = next((k for k in known if not k.stable_id and k.name_digest == digest), None)
    return dataclasses.replace(ref, user_id=match.user_id) if match is not None and match.user_id else ref


def _person(ref: ev.ParticipantRef) -> str:
    return f"entra:{ref.stable_id}" if ref.stable_id else f"participant:{ref.user_id}"


def camera_event_key(meeting: ev.MeetingRef, person: str, ordinal: int, on: bool) -> str:
    """Return the key of a person's `ordinal`-th camera change in the session: two writers of the same change write one row."""
    return KEY_PREFIX + hashlib.sha256(json.dumps([meeting.occurrence_id, person, ordinal, on]).encode()).hexdigest()


def camera_changes(
    meeting: ev.MeetingRef,
    at: datetime,
    present: Iterable[CallParticipant],
    stored: Sequence[ev.MeetingEvent],
    raw: Mapping[str, Any],
    data_key: str,
) -> list[tuple[str, ev.VideoStateChanged]]:
    """Return a VideoStateChanged, with its key, for each person whose camera differs from what the session has stored.

    A person in the call on two devices counts as sending if either sends. The bot's callbacks carry no time
    of their own: the change is dated `at`, when it was heard. `stored` are the session's events as the store
    returns them; `data_key` the key their names' digests were made with.
    """
    known = roster_refs(stored)
    last: dict[str, tuple[bool, datetime]] = {}
    counts: Counter[str] = Counter()
    for event in stored:
        if isinstance(event, ev.VideoStateChanged):
            person = _person(event.participant)
            last[person] = (event.on, event.at)
            counts[person] += 1
    people: dict[str, tuple[ev.ParticipantRef, bool]] = {}
    for participant in present:
        ref = as_roster_person(participant.ref, known, data_key)
        person = _person(ref)
        first, on = people.get(person, (ref, False))
        people[person] = (first, on or participant.camera_on)
    changes = []
    for person, (ref, on) in people.items():
        was = last.get(person)
        if was is not None and was[0] == on:
            continue  # unchanged (or the same roster delivered again)
        # Two changes heard in the same instant (one callback's notifications) keep their order in the record.
        when = at if was is None or at > was[1] else was[1] + timedelta(microseconds=1)
        event = ev.VideoStateChanged(meeting=meeting, at=when, participant=ref, on=on, raw=raw)
        changes.append((camera_event_key(meeting, person, counts[person], on), event))
    return changes
