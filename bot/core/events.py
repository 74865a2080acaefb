"""Platform-neutral meeting events: what the core understands, whatever platform reported it."""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, ClassVar, Mapping

from .timefmt import from_iso, to_stamp

# How a field is kept at rest (see `MeetingEvent.to_record`): free text and names only encrypted
# (SEALED), and some never (NOT_KEPT). Every other field is an id, a time or a word of the product's.
SEALED = {"at_rest": "sealed"}
NOT_KEPT = {"at_rest": "not_kept"}
Seal = Callable[[str], str]


@dataclass(frozen=True)
class MeetingRef:
    """One occurrence of a meeting on one platform: the key of a session (its topic, which may name someone, is not kept)."""

    platform: str
    occurrence_id: str
    meeting_id: str = ""
    host_id: str = ""


@dataclass(frozen=True)
class ParticipantRef:
    """Whatever a platform tells us about who did something; the core resolves it to a person.

    The name and email are as the platform gave them; what is stored of them is their keyed digests
    (bot/core/digests.py), and the name, encrypted, only if the therapist opted in to names.
    """

    user_id: str = ""  # per-join id (Zoom participant user_id, RTMS user_id)
    stable_id: str = ""  # the same across reconnects (Zoom participant_uuid, Entra id)
    account_id: str = ""  # the platform account (Zoom participant id; the host's equals host_id)
    name: str = field(default="", metadata=SEALED)
    email: str = field(default="", metadata=NOT_KEPT)
    name_digest: str = ""  # keyed digest of the display name: matches client profiles and tells guests apart
    email_hash: str = ""  # keyed digest of the email: matches client profiles


@dataclass(frozen=True)
class MeetingEvent:
    """Base of every domain event: when it happened and in which meeting occurrence."""

    kind: ClassVar[str] = ""
    # Ties at the same instant are applied in this order (starts first, ends last).
    rank: ClassVar[int] = 5

    meeting: MeetingRef
    at: datetime
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_record(self, seal: Seal) -> dict[str, Any]:
        """Return the JSON-able fields worth storing (never the raw payload): SEALED text through `seal`, NOT_KEPT left out."""
        record: dict[str, Any] = {"kind": self.kind, "at": to_stamp(self.at)}
        record.update(_kept(self, seal))
        return record


def _kept(obj: Any, seal: Seal) -> dict[str, Any]:
    """Return a dataclass's fields as they are stored: an empty SEALED field is left out, a filled one sealed."""
    kept: dict[str, Any] = {}
    kind: type = type(obj)  # typed so: mypy takes type[Any] for unhashable
    for name, how in _stored(kind):
        value = getattr(obj, name)
        if how == "sealed":
            if not value:
                continue
            value = seal(value)
        elif hasattr(value, "__dataclass_fields__"):  # dataclasses.is_dataclass, without its look at `type`
            value = _kept(value, seal)
        kept[name] = value
    return kept


def _opened(cls: type, record: Mapping[str, Any], unseal: Seal) -> dict[str, Any]:
    """Return the stored fields of `cls` from a record, SEALED ones through `unseal` (the inverse of `_kept`)."""
    values: dict[str, Any] = {}
    for name, how in _at_rest(cls):
        if name not in record or how == "not_kept":
            continue
        value = record[name]
        if how == "sealed":
            value = unseal(value)
        values[name] = value
    return values


@functools.cache
def _stored(cls: type) -> tuple[tuple[str, str | None], ...]:
    """Return the fields of a dataclass that `_kept` stores: an event's meeting, time and raw payload go elsewhere or nowhere."""
    beside = _beside(cls)
    return tuple((name, how) for name, how in _at_rest(cls) if how != "not_kept" and name not in beside)


BESIDE_RECORD = ("meeting", "at", "raw")  # an event's fields its stored record holds elsewhere (its row) or nowhere


def _beside(cls: type) -> tuple[str, ...]:
    return BESIDE_RECORD if issubclass(cls, MeetingEvent) else ()


@functools.cache
def _at_rest(cls: type) -> tuple[tuple[str, str | None], ...]:
    """Return each field of a dataclass with how it is kept at rest: read once per class, not per stored row."""
    return tuple((f.name, f.metadata.get("at_rest")) for f in dataclasses.fields(cls))


@dataclass(frozen=True)
class MeetingStarted(MeetingEvent):
    kind: ClassVar[str] = "meeting_started"
    rank: ClassVar[int] = 0
    scheduled_start: str = ""
    scheduled_minutes: int = 0


@dataclass(frozen=True)
class MeetingEnded(MeetingEvent):
    kind: ClassVar[str] = "meeting_ended"
    rank: ClassVar[int] = 9


@dataclass(frozen=True)
class ParticipantEvent(MeetingEvent):
    participant: ParticipantRef = ParticipantRef()


@dataclass(frozen=True)
class ParticipantJoined(ParticipantEvent):
    kind: ClassVar[str] = "participant_joined"
    rank: ClassVar[int] = 2


@dataclass(frozen=True)
class ParticipantLeft(ParticipantEvent):
    kind: ClassVar[str] = "participant_left"
    rank: ClassVar[int] = 8


@dataclass(frozen=True)
class WaitingRoomJoined(ParticipantEvent):
    kind: ClassVar[str] = "waiting_room_joined"
    rank: ClassVar[int] = 1


@dataclass(frozen=True)
class WaitingRoomLeft(ParticipantEvent):
    kind: ClassVar[str] = "waiting_room_left"


@dataclass(frozen=True)
class ParticipantAdmitted(ParticipantEvent):
    kind: ClassVar[str] = "participant_admitted"
    rank: ClassVar[int] = 1


@dataclass(frozen=True)
class SharingStarted(ParticipantEvent):
    kind: ClassVar[str] = "sharing_started"


@dataclass(frozen=True)
class SharingEnded(ParticipantEvent):
    kind: ClassVar[str] = "sharing_ended"
    rank: ClassVar[int] = 7


@dataclass(frozen=True)
class RecordingStarted(MeetingEvent):
    kind: ClassVar[str] = "recording_started"


@dataclass(frozen=True)
class RecordingStopped(MeetingEvent):
    kind: ClassVar[str] = "recording_stopped"
    rank: ClassVar[int] = 7


@dataclass(frozen=True)
class VideoStateChanged(ParticipantEvent):
    """A participant's camera went on or off (from RTMS, a Teams calling bot, or tests)."""

    kind: ClassVar[str] = "video_state_changed"
    rank: ClassVar[int] = 4
    on: bool = True


# What a framing change can be: seen by the framing analysis, or marked by the therapist by hand.
FRAMING_CHANGES = (
    "face_lost", "face_returned",
    "hands_out_of_view", "hands_in_view",
    "lying_down", "upright",
    "camera_covered", "camera_uncovered",
    "frozen", "unfrozen",
    "scene_changed",
    "moved_away", "moved_closer",
    "other",
)


@dataclass(frozen=True)
class FramingChanged(MeetingEvent):
    """The client's framing changed (one of FRAMING_CHANGES): seen by the framing analysis or marked by the therapist."""

    kind: ClassVar[str] = "framing_changed"
    change: str = "other"
    detail: str = field(default="", metadata=SEALED)  # the therapist's words, when they marked it
    source: str = "analysis"  # or "therapist"


@dataclass(frozen=True)
class StreamStarted(MeetingEvent):
    """A live media stream became available (Zoom RTMS): kept for the stream client."""

    kind: ClassVar[str] = "stream_started"
    stream_id: str = ""
    server_url: str = ""


@dataclass(frozen=True)
class StreamStopped(MeetingEvent):
    kind: ClassVar[str] = "stream_stopped"
    rank: ClassVar[int] = 8
    stream_id: str = ""
    reason: int = 0


@dataclass(frozen=True)
class StreamInterrupted(MeetingEvent):
    kind: ClassVar[str] = "stream_interrupted"
    stream_id: str = ""


@dataclass(frozen=True)
class SessionClosed(MeetingEvent):
    """The watchdog closed a session that never reported its end; a real end overrides it."""

    kind: ClassVar[str] = "session_closed"
    rank: ClassVar[int] = 9
    reason: str = ""


@dataclass(frozen=True)
class Occurrence:
    """One planned occurrence of a (possibly recurring) meeting."""

    start: str
    minutes: int = 0
    occurrence_id: str = ""


@dataclass(frozen=True)
class SchedulingEvent(MeetingEvent):
    """A change to the meeting's plan: it moves reminders, never enters a session's fold."""


@dataclass(frozen=True)
class MeetingScheduled(SchedulingEvent):
    """A meeting was created or changed; `complete` is False when only some fields were sent."""

    kind: ClassVar[str] = "meeting_scheduled"
    occurrences: tuple[Occurrence, ...] = ()
    recurring: bool = False
    complete: bool = True


@dataclass(frozen=True)
class MeetingCancelled(SchedulingEvent):
    """A meeting, or only the listed occurrences of it, was deleted."""

    kind: ClassVar[str] = "meeting_cancelled"
    occurrences: tuple[Occurrence, ...] = ()


EVENT_TYPES: dict[str, type[MeetingEvent]] = {
    cls.kind: cls
    for cls in (
        MeetingStarted,
        MeetingEnded,
        ParticipantJoined,
        ParticipantLeft,
        WaitingRoomJoined,
        WaitingRoomLeft,
        ParticipantAdmitted,
        SharingStarted,
        SharingEnded,
        RecordingStarted,
        RecordingStopped,
        VideoStateChanged,
        FramingChanged,
        StreamStarted,
        StreamStopped,
        StreamInterrupted,
        SessionClosed,
    )
}


def event_from_record(meeting: MeetingRef, record: Mapping[str, Any], unseal: Seal) -> MeetingEvent:
    """Rebuild a stored event; the inverse of `MeetingEvent.to_record`."""
    cls = EVENT_TYPES[record["kind"]]
    values = _opened(cls, {k: v for k, v in record.items() if k not in BESIDE_RECORD}, unseal)
    if "participant" in values:
        stored = values["participant"]
        if not set(stored) <= {name for name, _ in _at_rest(ParticipantRef)}:
            raise TypeError("a stored participant has a field no participant has")
        values["participant"] = ParticipantRef(**_opened(ParticipantRef, stored, unseal))
    return cls(meeting=meeting, at=from_iso(record["at"]), **values)


def as_rebuilt(event: MeetingEvent) -> MeetingEvent | None:
    """Return the event as `event_from_record` rebuilds it from its record (the same meeting), without its raw payload,
    if a read rebuilds it just so: its time in UTC to the microsecond, each value one JSON gives back as it was; None if
    not sure."""
    at = event.at
    if EVENT_TYPES.get(event.kind) is not type(event) or at.tzinfo is not timezone.utc or at.fold or not _read_back(event):
        return None
    return dataclasses.replace(event, raw={}) if event.raw else event


def _read_back(obj: Any) -> bool:
    """Return whether `_opened` gives back each stored field of `obj` from `_kept(obj)` as it is (a left out one: its default)."""
    kind: type = type(obj)  # typed so: mypy takes type[Any] for unhashable
    for name, how, default in _read_backs(kind):
        value = getattr(obj, name)
        if how is None:
            fits = type(value) in _SAME_FROM_JSON
        elif how == "sealed":  # an empty one is left out: read as the default
            fits = type(value) is str and (value != "" or default == "")
        elif how == "not_kept":  # read as the default
            fits = type(value) is type(default) and value == default
        else:  # the participant: the one record `event_from_record` opens within
            fits = type(value) is ParticipantRef and _read_back(value)
        if not fits:
            return False
    return True


_SAME_FROM_JSON = frozenset((str, int, bool, type(None)))  # what json.loads gives back exactly as json.dumps was given it


@functools.cache
def _read_backs(cls: type) -> tuple[tuple[str, str | None, Any], ...]:
    """Return each field `_kept` stores or leaves out, with how it is kept ("participant": opened within) and its default."""
    beside = _beside(cls)
    return tuple(
        (f.name, "participant" if f.name == "participant" and issubclass(cls, MeetingEvent) else f.metadata.get("at_rest"), f.default)
        for f in dataclasses.fields(cls)
        if f.name not in beside
    )


def sort_key(event: MeetingEvent) -> tuple[datetime, int]:
    """Order events by their own time, not by arrival."""
    return (event.at, event.rank)
