"""Who was in the meeting, as which role, and when: reconnects merge into one person's presence."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from .events import ParticipantRef

THERAPIST = "therapist"
CLIENT = "client"
OTHER = "other"


@dataclass(frozen=True)
class RoleRules:
    """How to tell the therapist and the client apart from everyone else."""

    therapist_account_ids: frozenset[str] = frozenset()  # host id and the therapist's own ids
    client_email_hashes: frozenset[str] = frozenset()  # keyed digests (bot/core/digests.py)
    client_name_digests: frozenset[str] = frozenset()  # of display names, keyed
    client_account_ids: frozenset[str] = frozenset()  # the client's own accounts (Entra object ids)

    def is_therapist(self, ref: ParticipantRef) -> bool:
        """Return whether `ref` is the host or the configured therapist."""
        ids = {ref.account_id, ref.user_id} - {""}
        return bool(ids & self.therapist_account_ids)

    def looks_like_client(self, ref: ParticipantRef) -> bool:
        """Return whether `ref` matches the client profile's account, email or display name."""
        return (
            bool({ref.stable_id, ref.account_id} & (self.client_account_ids - {""}))
            or bool(ref.email_hash and ref.email_hash in self.client_email_hashes)
            or bool(ref.name_digest and ref.name_digest in self.client_name_digests)
        )


@dataclass
class PresenceInterval:
    joined_at: datetime
    left_at: datetime | None = None


# The ids that tell people apart, most lasting first (the same order `_same_person` trusts them in).
# A stored event carries a name's keyed digest only; a name itself is known only before storing.
_IDENTITY = ("stable_id", "account_id", "user_id", "name_digest", "name")


@dataclass
class Person:
    """One human in the meeting, however many times (or on how many devices) they connected."""

    name: str  # the display name, when it is known (kept only if the therapist opted in to names)
    refs: list[ParticipantRef] = field(default_factory=list)
    role: str = OTHER
    # Presence per connection (the platform's per-join id): a reconnect is a new connection.
    connections: dict[str, list[PresenceInterval]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Return a key naming this person (a hash, no name) whichever of their events are known so far.

        Alert keys use it: a position in the roster would change as late events arrive.
        """
        for field_name in _IDENTITY:
            values = sorted({getattr(ref, field_name) for ref in self.refs} - {""})
            if values:
                return hashlib.sha256(f"{field_name}:{values[0]}".encode()).hexdigest()[:16]
        return ""

    @property
    def intervals(self) -> list[PresenceInterval]:
        """Return the person's presence: the union of their connections, touching intervals merged."""
        merged: list[PresenceInterval] = []
        spans = sorted((i for c in self.connections.values() for i in c), key=lambda i: i.joined_at)
        for span in spans:
            last = merged[-1] if merged else None
            if last is not None and (last.left_at is None or span.joined_at <= last.left_at):
                if last.left_at is not None:
                    last.left_at = None if span.left_at is None else max(last.left_at, span.left_at)
                continue
            merged.append(PresenceInterval(span.joined_at, span.left_at))
        return merged

    @property
    def first_joined(self) -> datetime | None:
        spans = [i.joined_at for c in self.connections.values() for i in c]
        return min(spans) if spans else None

    def present_at(self, at: datetime) -> bool:
        """Return whether this person was in the meeting at `at`."""
        return any(i.joined_at <= at and (i.left_at is None or at < i.left_at) for i in self.intervals)

    def present_before(self, at: datetime, connection: str) -> bool:
        """Return whether a leave of `connection` at `at` would close a presence that began earlier."""
        spans = self.connections.get(connection) or [i for c in self.connections.values() for i in c]
        return any(i.left_at is None and i.joined_at < at for i in spans)

    def join(self, at: datetime, connection: str) -> None:
        """Open the connection's presence (a repeated join of an open connection changes nothing)."""
        spans = self.connections.setdefault(connection, [])
        if not any(i.left_at is None or i.joined_at <= at < i.left_at for i in spans):
            spans.append(PresenceInterval(at))

    def leave(self, at: datetime, connection: str) -> None:
        """Close the connection's open presence (a leave without a join is ignored)."""
        spans = self.connections.get(connection) or next(
            (c for c in self.connections.values() if any(i.left_at is None for i in c)), []
        )
        for interval in spans:
            if interval.left_at is None and interval.joined_at <= at:
                interval.left_at = at
                return

    def close(self, at: datetime) -> None:
        """Close every open connection at the meeting's end."""
        for spans in self.connections.values():
            for interval in spans:
                if interval.left_at is None:
                    interval.left_at = max(at, interval.joined_at)


def _same_person(a: ParticipantRef, b: ParticipantRef) -> bool:
    if a.stable_id and b.stable_id:
        return a.stable_id == b.stable_id
    if a.account_id and b.account_id:
        return a.account_id == b.account_id
    if a.user_id and a.user_id == b.user_id:
        return True
    if a.name_digest and b.name_digest:
        return a.name_digest == b.name_digest
    return bool(a.name) and a.name == b.name


def _ids(ref: ParticipantRef) -> list[tuple[str, str]]:
    """Return the ref's non-empty ids: `_same_person` only ever matches on one of them being equal."""
    return [(name, value) for name in _IDENTITY if (value := getattr(ref, name))]


class Roster:
    """The people of one meeting, found from platform references."""

    def __init__(self) -> None:
        self.people: list[Person] = []
        # A long session asks about the same few refs thousands of times: each id seen maps to the
        # positions in `people` of those with a ref carrying it, so a look-up checks only the people
        # sharing an id with the ref, and each answer is kept until the roster changes.
        self._holders: dict[tuple[str, str], set[int]] = {}
        self._placed: set[tuple[int, ParticipantRef]] = set()
        self._answers: dict[ParticipantRef, int | None] = {}

    def find(self, ref: ParticipantRef) -> Person | None:
        """Return the person `ref` points at, or None if nobody matches (the first in joining order, as ever)."""
        position = self._position(ref)
        return None if position is None else self.people[position]

    def _position(self, ref: ParticipantRef) -> int | None:
        if ref in self._answers:
            return self._answers[ref]
        candidates = {p for known_id in _ids(ref) for p in self._holders.get(known_id, ())}
        found = next((p for p in sorted(candidates) if any(_same_person(ref, known) for known in self.people[p].refs)), None)
        self._answers[ref] = found
        return found

    def takes_alone(self, ref: ParticipantRef, looked_up: Iterable[ParticipantRef]) -> bool:
        """Return whether placing `ref`, a new ref of the person it points at, changes whom no other ref points at: nobody
        else holds any of its ids, and each of `looked_up` (refs only looked up, never placed) that it names points at
        that person or at someone before them already."""
        position = self._position(ref)
        if position is None or any(not self._holders.get(known_id, set()) <= {position} for known_id in _ids(ref)):
            return False
        return all((found := self._position(other)) is not None and found <= position for other in looked_up if _same_person(other, ref))

    def person(self, ref: ParticipantRef) -> Person:
        """Return the person `ref` points at, adding a new one if needed."""
        position = self._position(ref)
        if position is None:
            position = len(self.people)
            self.people.append(Person(name=ref.name))
        found = self.people[position]
        if (position, ref) not in self._placed:
            found.refs.append(ref)
            self._placed.add((position, ref))
            for known_id in _ids(ref):
                self._holders.setdefault(known_id, set()).add(position)
            self._answers.clear()
        if not found.name and ref.name:
            found.name = ref.name
        return found

    def assign_roles(self, rules: RoleRules) -> None:
        """Mark the therapist, then the client (profile match, else first to join), then others."""
        for person in self.people:
            person.role = THERAPIST if any(rules.is_therapist(r) for r in person.refs) else OTHER
        firsts = [(first, p) for p in self.people if p.role != THERAPIST and (first := p.first_joined) is not None]
        joined = [p for _, p in sorted(firsts, key=lambda pair: pair[0])]
        matching = [p for p in joined if any(rules.looks_like_client(r) for r in p.refs)]
        chosen = (matching or joined)[:1]
        for person in chosen:
            person.role = CLIENT

    def with_role(self, role: str) -> Iterable[Person]:
        return (p for p in self.people if p.role == role)

    @property
    def client(self) -> Person | None:
        return next(iter(self.with_role(CLIENT)), None)
