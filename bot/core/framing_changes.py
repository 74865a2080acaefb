"""Turn a client's framing observations into changes worth a note: debounced, with hysteresis, time passed in."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .framing import (
    FramingObservation,
    FramingSettings,
    scene_similarity,
    thumbnail_difference,
)

# Frames this far apart belong to different stretches (the camera was off, the stream reconnected):
# nothing half-seen before the gap counts towards a change after it.
GAP = timedelta(seconds=15)
HAND_MARGIN = 0.2  # hands count as gone only below hand_visibility minus this: no flicker at the threshold
SMOOTHING = 0.1  # how fast the usual face size follows slow drift


@dataclass(frozen=True)
class FramingChange:
    """A settled change of the client's framing: one of FRAMING_CHANGES, from when it began."""

    change: str
    at: datetime
    detail: str = ""


@dataclass
class _Debounced:
    """A state that changes only once a new value has held for the whole hold time."""

    state: str | None
    candidate: str | None = None
    since: datetime | None = None

    def see(self, value: str | None, at: datetime, hold: timedelta) -> datetime | None:
        """Take one reading (None: no evidence); return when the new state began if it has now settled."""
        if value is None:
            return None
        if value == self.state:
            self.candidate = self.since = None
            return None
        if value != self.candidate or self.since is None:
            self.candidate, self.since = value, at
        if at - self.since >= hold:
            began, self.state = self.since, value
            self.candidate = self.since = None
            return began
        return None

    def reset(self) -> None:
        self.candidate = self.since = None


@dataclass
class FramingChangeDetector:
    """One client's framing over a session: feed observations in time order, get settled changes out."""

    settings: FramingSettings
    face: _Debounced = field(default_factory=lambda: _Debounced("present"))
    posture: _Debounced = field(default_factory=lambda: _Debounced("upright"))
    cover: _Debounced = field(default_factory=lambda: _Debounced("uncovered"))
    frozen: _Debounced = field(default_factory=lambda: _Debounced("live"))
    hands: _Debounced = field(default_factory=lambda: _Debounced(None))  # whatever shows first is the usual
    distance: _Debounced = field(default_factory=lambda: _Debounced("usual"))
    scene: _Debounced = field(default_factory=lambda: _Debounced("same"))
    usual_face_width: float | None = None
    scene_reference: bytes | None = None
    last_thumbnail: bytes | None = None
    last_at: datetime | None = None

    def observe(self, at: datetime, seen: FramingObservation) -> list[FramingChange]:
        """Take the observation of the frame shown at `at`; return the changes it settles (an older frame is ignored)."""
        if self.last_at is not None and at <= self.last_at:
            return []
        if self.last_at is not None and at - self.last_at > GAP:
            for track in (self.face, self.posture, self.cover, self.frozen, self.hands, self.distance, self.scene):
                track.reset()
            self.last_thumbnail = None
        self.last_at = at
        s = self.settings
        hold = timedelta(seconds=s.debounce_seconds)
        changes: list[FramingChange] = []

        def settled(track: _Debounced, value: str | None, kinds: dict[str, str], detail: str = "", wait: timedelta = hold) -> bool:
            before = track.state
            began = track.see(value, at, wait)
            if began is None or before is None:  # a first settled value is the usual, not a change
                return False
            changes.append(FramingChange(kinds[track.state], began, detail))  # type: ignore[index]
            return True

        settled(self.cover, self._cover(seen), {"covered": "camera_covered", "uncovered": "camera_uncovered"})
        if self.cover.state == "covered" or self.cover.candidate == "covered":
            self.last_thumbnail = seen.thumbnail  # a dark, still picture is the cover, not a frozen camera
            return changes
        still = self.last_thumbnail is not None and thumbnail_difference(seen.thumbnail, self.last_thumbnail) < s.frozen_difference
        self.last_thumbnail = seen.thumbnail
        if not still and self.frozen.state == "frozen":  # one new picture proves the video is live again
            settled(self.frozen, "live", {"live": "unfrozen"}, wait=timedelta(0))
        elif still or self.frozen.candidate is not None:
            settled(self.frozen, "frozen" if still else "live", {"frozen": "frozen"}, wait=timedelta(seconds=s.frozen_seconds))
        if self.frozen.state == "frozen":
            return changes
        reframed = settled(self.posture, self._posture(seen), {"lying": "lying_down", "upright": "upright"}, _angle(seen))
        # Face detection fails on a turned picture, and a face seen sideways says nothing about distance.
        lying = self.posture.state == "lying" or self.posture.candidate == "lying"
        if not lying:
            settled(self.face, "present" if seen.face else "lost", {"lost": "face_lost", "present": "face_returned"})
            reframed |= self._distance(at, seen, hold, changes)
        hands = "in" if seen.hands_seen(s.hand_visibility) else "out" if not seen.hands_seen(s.hand_visibility - HAND_MARGIN) else self.hands.state
        settled(self.hands, hands if not lying or self.hands.state is None else None, {"in": "hands_in_view", "out": "hands_out_of_view"})
        if reframed or self.scene_reference is None:
            # A new posture or distance changes the whole picture: that is the change, not a new place.
            self.scene_reference = seen.scene
            self.scene.reset()
        else:
            similar = scene_similarity(seen.scene, self.scene_reference) >= s.scene_similarity
            if settled(self.scene, "same" if similar else "new", {"new": "scene_changed"}, wait=2 * hold) or similar:
                self.scene.state, self.scene_reference = "same", seen.scene
        return sorted(changes, key=lambda c: c.at)

    def _cover(self, seen: FramingObservation) -> str | None:
        s = self.settings
        if seen.brightness < s.covered_brightness or seen.contrast < s.covered_contrast:
            return "covered"
        if seen.brightness >= 1.5 * s.covered_brightness and seen.contrast >= 1.5 * s.covered_contrast:
            return "uncovered"
        return self.cover.state  # between the two thresholds the state holds: that is the hysteresis

    def _posture(self, seen: FramingObservation) -> str | None:
        angle = seen.shoulder_angle
        if angle is None:
            return None
        if angle >= self.settings.lying_angle_degrees:
            return "lying"
        return "upright" if angle <= self.settings.upright_angle_degrees else self.posture.state

    def _distance(self, at: datetime, seen: FramingObservation, hold: timedelta, changes: list[FramingChange]) -> bool:
        """Follow the face's size against its usual size; return whether a move away or closer settled."""
        if seen.face is None or seen.face.width <= 0:
            return False
        width = seen.face.width
        if self.usual_face_width is None:
            self.usual_face_width = width
            return False
        ratio = width / self.usual_face_width
        zone = "away" if ratio < 1 / self.settings.distance_ratio else "closer" if ratio > self.settings.distance_ratio else "usual"
        if zone == "usual":
            self.distance.reset()
            self.usual_face_width += SMOOTHING * (width - self.usual_face_width)
            return False
        began = self.distance.see(zone, at, hold)
        if began is None:
            return False
        changes.append(FramingChange("moved_away" if zone == "away" else "moved_closer", began, f"face {ratio:.1f} times its usual width"))
        self.usual_face_width, self.distance.state = width, "usual"  # the new distance is the usual from now on
        return True


def _angle(seen: FramingObservation) -> str:
    return f"shoulder line at {seen.shoulder_angle:.0f} degrees" if seen.shoulder_angle is not None else ""
