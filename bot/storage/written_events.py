"""Remember the events this instance just wrote, as a read of their rows rebuilds them: judging reads them back undecoded."""
from __future__ import annotations

import dataclasses

from bot.core.events import MeetingEvent, MeetingRef

REMEMBERED = 4096  # rows at most; the oldest is forgotten first


class WrittenEvents:
    """Row id -> (the data written, the event a read of it rebuilds), for this instance's own writes only.

    A row is served only while its data is still the text written: a row re-sealed (key rotation), or
    deleted (forget, retention) and its id taken again, no longer matches and is read the usual way.
    """

    def __init__(self, size: int = REMEMBERED) -> None:
        self._size = size
        self._rows: dict[int, tuple[str, MeetingEvent]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def remember(self, row_id: int, data: str, event: MeetingEvent) -> None:
        """Keep what row `row_id` holds (`data`) and the event its read rebuilds (see `as_rebuilt`)."""
        self._rows[row_id] = (data, event)
        if len(self._rows) > self._size:
            del self._rows[next(iter(self._rows))]

    def take(self, row_id: int, data: str, meeting: MeetingRef) -> MeetingEvent | None:
        """Return (and forget) the event of row `row_id` read as `data` for `meeting`; None if not remembered so."""
        written = self._rows.pop(row_id, None)
        if written is None or written[0] != data:
            return None
        event = written[1]
        return event if event.meeting == meeting else dataclasses.replace(event, meeting=meeting)
