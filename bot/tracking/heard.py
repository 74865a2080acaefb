"""Tell when the last of a session's events up to an instant was received, from the rows its fold has read."""
from __future__ import annotations

import bisect
from datetime import datetime

from bot.core.timefmt import from_iso


class HeardUpTo:
    """The stamps of receipt of the rows read, by their events' times: the latest up to any instant, in a bisection."""

    def __init__(self) -> None:
        self._ats: list[datetime] = []  # the events' times, in order
        self._received: list[str] = []  # each row's stamp of receipt, in the same order
        self._latest: list[str] = []  # the latest stamp among the rows up to each place (as SQL's max, text sorts as time)
        self._keys: set[str] = set()

    def note(self, key: str, at: datetime, received: str) -> None:
        """Note a row read: its key, its event's time and its stamp of receipt (a key noted before changes nothing)."""
        if key in self._keys:
            return
        self._keys.add(key)
        place = bisect.bisect_right(self._ats, at)
        self._ats.insert(place, at)
        self._received.insert(place, received)
        del self._latest[place:]  # an event later than all the others (most are) recomputes only its own place
        for n in range(place, len(self._ats)):
            self._latest.append(max(self._latest[n - 1], self._received[n]) if n else self._received[n])

    def up_to(self, at: datetime) -> datetime | None:
        """Return the latest stamp of receipt of the rows whose events are of `at` or earlier (None: none)."""
        place = bisect.bisect_right(self._ats, at)
        return from_iso(self._latest[place - 1]) if place else None
