"""Tell from the followed client's frames that a camera stored as off is on: RTMS never repeats a missed 'video on'."""
from __future__ import annotations

import collections
from dataclasses import dataclass
from datetime import datetime

from . import protocol as p

# Frame times kept to find the first frame after an 'off' stored late (about 13 s at 5 fps).
RECENT_FRAMES = 64


@dataclass(frozen=True)
class CameraSeenOn:
    """A frame of the followed participant, at `at`, while their camera was stored as off."""

    rtms_id: str
    at: datetime

    def update(self) -> p.ParticipantUpdate:
        """Return it as the RTMS 'video on' event it stands for (so it shares that event's storage key)."""
        return p.ParticipantUpdate(p.PARTICIPANT_VIDEO_ON, round(self.at.timestamp() * 1000), self.rtms_id, "")


class CameraEvidence:
    """What the stream knows of the followed client's camera, cheap enough to consult on every frame."""

    def __init__(self, keep: int = RECENT_FRAMES) -> None:
        self._user: str | None = None
        self._off_since: datetime | None = None
        self._pending = False  # a CameraSeenOn is queued and not stored yet
        self._recent: collections.deque[datetime] = collections.deque(maxlen=keep)

    def follow(self, user_id: str | None) -> None:
        """Watch this participant's frames from now on (the video subscription points at them)."""
        if user_id != self._user:
            self._user = user_id
            self._recent.clear()

    def frame(self, user_id: str, at: datetime) -> CameraSeenOn | None:
        """Note a frame; return the 'on' it proves, once per off period, or None."""
        if user_id != self._user:
            return None
        self._recent.append(at)
        return self._claim(at)

    def stored(self, off_since: datetime | None) -> CameraSeenOn | None:
        """Take the stored state (off since when, None for on); return the 'on' a frame already seen proves."""
        if self._pending:  # the queued 'on' is not stored yet: the state read now is older than it
            return None
        self._off_since = off_since
        later = next((at for at in self._recent if off_since is not None and at > off_since), None)
        return None if later is None else self._claim(later)

    def settled(self) -> None:
        """Say that the queued 'on' was handled (stored, or failed: a later frame may try again)."""
        self._pending = False

    def _claim(self, at: datetime) -> CameraSeenOn | None:
        if self._user is None or self._off_since is None or self._pending or at <= self._off_since:
            return None
        self._pending, self._off_since = True, None
        return CameraSeenOn(self._user, at)
