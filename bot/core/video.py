"""The client's video-off intervals: opened by an off report, closed by on, leaving, or the end."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .participants import Person
from .timefmt import seconds_between

CAMERA_ON, CLIENT_LEFT, MEETING_ENDED = "camera_on", "client_left", "meeting_ended"


@dataclass
class VideoOffInterval:
    """A stretch of time during which the client's camera was off."""

    start: datetime
    end: datetime | None = None
    ended_by: str = ""  # what closed it: CAMERA_ON, CLIENT_LEFT or MEETING_ENDED ("" while open)

    def seconds(self, now: datetime | None = None) -> int:
        """Return the interval's length; an open interval is measured up to `now`."""
        end = self.end or now
        return 0 if end is None else seconds_between(self.start, end)


class VideoOffTracker:
    """Turn the client's video on/off reports into intervals."""

    def __init__(self, client: Person | None) -> None:
        self.client = client  # None: no client (yet): no report counts
        self.intervals: list[VideoOffInterval] = []

    @property
    def _open(self) -> VideoOffInterval | None:
        if self.intervals and self.intervals[-1].end is None:
            return self.intervals[-1]
        return None

    def report(self, at: datetime, on: bool) -> None:
        """Apply one report; repeats of the current state change nothing."""
        if self.client is None or not self.client.present_at(at):
            return
        current = self._open
        if not on and current is None:
            self.intervals.append(VideoOffInterval(at))
        elif on and current is not None:
            current.end, current.ended_by = at, CAMERA_ON

    def client_left(self, at: datetime, why: str = CLIENT_LEFT) -> None:
        """Close the open interval: a camera that is gone is not 'off' any more."""
        if (current := self._open) is not None:
            current.end, current.ended_by = max(at, current.start), why

    def meeting_ended(self, at: datetime) -> None:
        """Close the open interval at the meeting's end."""
        self.client_left(at, MEETING_ENDED)
