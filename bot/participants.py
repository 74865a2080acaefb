"""Who was in the meeting, as which role, and when: reconnects merge into one person's presence."""
from __future__ import annotations

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
    client_email_hashes: frozenset[str] = frozenset()
    client_names: frozenset[str] = frozenset()  # lower-cased display names

    def is_therapist(self, ref: ParticipantRef) -> bool:
        """Return whether `ref` is the host or the configured therapist."""
        ids = {ref.account_id, ref.user_id} - {""}
        return bool(ids & self.therapist_account_ids)

    def looks_like_client(self, ref: ParticipantRef) -> bool:
        """Return whether `ref` matches the client profile's email or display name."""
        return bool(ref.email_hash and ref.email_hash in self.client_email_hashes) or bool(
            ref.name and ref.name.strip().lower() in self.client_names
        )


@dataclass
class PresenceInterval:
    joined_at: datetime
    left_at: datetime | None = None


@dataclass
class Person:
    """One human in the meeting, however many times they (re)connected."""

    key: str
    name: str
    refs: list[ParticipantRef] = field(default_factory=list)
    role: str = OTHER
    intervals: list[PresenceInterval] = field(default_factory=list)

    @property
    def first_joined(self) -> datetime | None:
        return self.intervals[0].joined_at if self.intervals else None

    def present_at(self, at: datetime) -> bool:
        """Return whether this person was in the meeting at `at`."""
        return any(i.joined_at <= at and (i.left_at is None or at < i.left_at) for i in self.intervals)

    def join(self, at: datetime) -> None:
        """Open a presence interval, merging with one that is still open or overlaps."""
        for interval in self.intervals:
            if interval.left_at is None or interval.joined_at <= at <= interval.left_at:
                if interval.left_at is not None and at == interval.left_at:
                    interval.left_at = None  # a reconnect in the same second: one interval
                return
        self.intervals.append(PresenceInterval(at))
        self.intervals.sort(key=lambda i: i.joined_at)

    def leave(self, at: datetime) -> None:
        """Close the open presence interval (a leave without a join is ignored)."""
        for interval in self.intervals:
            if interval.left_at is None and interval.joined_at <= at:
                interval.left_at = at
                return

    def close(self, at: datetime) -> None:
        """Close every open interval at the meeting's end."""
        for interval in self.intervals:
            if interval.left_at is None:
                interval.left_at = max(at, interval.joined_at)


def _same_person(a: ParticipantRef, b: ParticipantRef) -> bool:
    if a.stable_id and b.stable_id:
        return a.stable_id == b.stable_id
    if a.account_id and b.account_id:
        return a.account_id == b.account_id
    if a.user_id and a.user_id == b.user_id:
        return True
    return bool(a.name) and a.name == b.name


class Roster:
    """The people of one meeting, found from platform references."""

    def __init__(self) -> None:
        self.people: list[Person] = []

    def find(self, ref: ParticipantRef) -> Person | None:
        """Return the person `ref` points at, or None if nobody matches."""
        for person in self.people:
            if any(_same_person(ref, known) for known in person.refs):
                return person
        return None

    def person(self, ref: ParticipantRef) -> Person:
        """Return the person `ref` points at, adding a new one if needed."""
        found = self.find(ref)
        if found is None:
            found = Person(key=f"p{len(self.people) + 1}", name=ref.name)
            self.people.append(found)
        if ref not in found.refs:
            found.refs.append(ref)
        if not found.name and ref.name:
            found.name = ref.name
        return found

    def assign_roles(self, rules: RoleRules) -> None:
        """Mark the therapist, then the client (profile match, else first to join), then others."""
        for person in self.people:
            person.role = THERAPIST if any(rules.is_therapist(r) for r in person.refs) else OTHER
        joined = sorted(
            (p for p in self.people if p.role != THERAPIST and p.first_joined is not None),
            key=lambda p: p.first_joined,
        )
        matching = [p for p in joined if any(rules.looks_like_client(r) for r in p.refs)]
        chosen = (matching or joined)[:1]
        for person in chosen:
            person.role = CLIENT

    def with_role(self, role: str) -> Iterable[Person]:
        return (p for p in self.people if p.role == role)

    @property
    def client(self) -> Person | None:
        return next(iter(self.with_role(CLIENT)), None)
