"""What the framing analysis sees in one frame, its thresholds, and the pure measures the detector compares."""
from __future__ import annotations

import math
from dataclasses import dataclass

THUMBNAIL_SIZE = (64, 36)  # grey, one byte a pixel: fine enough that a live camera's noise shows
SCENE_SIZE = (16, 9)  # grey cells of 40x40 pixels at 640x360: coarse, so jitter and noise average out


@dataclass(frozen=True)
class FramingSettings:
    """The `[framing]` section: the analysis pool and the detector's thresholds."""

    enabled: bool = True
    workers: int = 1
    analysis_timeout_seconds: float = 2.0
    debounce_seconds: float = 5.0  # a new state must hold this long before it is a change
    frozen_seconds: float = 10.0
    lying_angle_degrees: float = 55.0  # shoulder line this steep: lying down (or the camera turned)
    upright_angle_degrees: float = 35.0  # and back under this: upright again
    hand_visibility: float = 0.5
    covered_brightness: float = 0.08
    covered_contrast: float = 0.03
    frozen_difference: float = 0.0002
    scene_similarity: float = 0.5
    distance_ratio: float = 1.5


@dataclass(frozen=True)
class Landmark:
    """A body point as a fraction of the frame's width and height, and how surely it is visible (0 to 1)."""

    x: float
    y: float
    visibility: float

    def seen(self, threshold: float) -> bool:
        """Return whether the point is inside the frame and at least `threshold` visible."""
        return self.visibility >= threshold and 0.0 <= self.x <= 1.0 and 0.0 <= self.y <= 1.0


@dataclass(frozen=True)
class FaceBox:
    """The face found, as fractions of the frame, with the detector's score."""

    x: float
    y: float
    width: float
    height: float
    score: float

    @property
    def share(self) -> float:
        """Return the part of the frame the face covers."""
        return max(0.0, self.width) * max(0.0, self.height)


@dataclass(frozen=True)
class FramingObservation:
    """One frame, analysed: never the frame itself, only these measures."""

    width: int
    height: int
    face: FaceBox | None
    shoulders: tuple[Landmark, Landmark] | None
    wrists: tuple[Landmark, Landmark] | None
    elbows: tuple[Landmark, Landmark] | None
    shoulder_angle: float | None  # degrees from level, 0 to 90; None when the shoulders are not seen
    brightness: float  # mean grey, 0 to 1
    contrast: float  # standard deviation of grey, 0 to 1
    sharpness: float  # standard deviation of the Laplacian of grey, 0 to 1
    thumbnail: bytes  # THUMBNAIL_SIZE grey pixels: a frozen picture repeats it exactly
    scene: bytes  # SCENE_SIZE grey cells: what the place looks like

    def hands_seen(self, threshold: float) -> bool:
        """Return whether a wrist is in the frame with at least `threshold` visibility, its elbow too.

        The pose model now and then places a wrist on a noisy patch of an armless picture; the elbow
        it then gives is not visible, so asking for both keeps camera noise from showing hands.
        """
        if self.wrists is None or self.elbows is None:
            return False
        return any(w.seen(threshold) and e.visibility >= threshold for w, e in zip(self.wrists, self.elbows, strict=True))


def shoulder_angle(left: Landmark, right: Landmark, width: int, height: int, min_visibility: float = 0.5) -> float | None:
    """Return the shoulder line's angle from level in degrees (0 to 90), measured in pixels, or None if unseen."""
    if min(left.visibility, right.visibility) < min_visibility:
        return None
    dx, dy = (right.x - left.x) * width, (right.y - left.y) * height
    if dx == 0 and dy == 0:
        return None
    return math.degrees(math.atan2(abs(dy), abs(dx)))


def thumbnail_difference(a: bytes, b: bytes) -> float:
    """Return the mean absolute difference of two thumbnails, 0 (the same) to 1."""
    if len(a) != len(b) or not a:
        return 1.0
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / (255.0 * len(a))


def scene_similarity(a: bytes, b: bytes) -> float:
    """Return the correlation of two scene signatures (-1 to 1): the same place under any lighting is near 1."""
    if len(a) != len(b) or not a:
        return 0.0
    n = len(a)
    mean_a, mean_b = sum(a) / n, sum(b) / n
    da = [x - mean_a for x in a]
    db = [y - mean_b for y in b]
    spread = math.sqrt(sum(x * x for x in da) * sum(y * y for y in db))
    if spread < n * 1.0:  # a nearly even picture tells nothing about the place (a covered camera is judged apart)
        return 1.0
    return sum(x * y for x, y in zip(da, db, strict=True)) / spread
