"""The framing change detector on made-up observations and a controlled clock (bot/core/framing_changes.py)."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

from bot.core.framing import (
    FaceBox,
    FramingObservation,
    FramingSettings,
    Landmark,
    scene_similarity,
    shoulder_angle,
)
from bot.core.framing_changes import FramingChangeDetector

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
SCENE = bytes((x * 16 + y * 7) % 256 for y in range(9) for x in range(16))
OTHER_SCENE = bytes((255 - (x * 29 + y * 41) % 256) for y in range(9) for x in range(16))


def seen(n: int = 0, **changes: object) -> FramingObservation:
    """Return an ordinary upright frame (the thumbnail varies with `n`, as a live camera's does)."""
    wrists = (Landmark(0.3, 0.8, 0.9), Landmark(0.7, 0.8, 0.9))
    base = FramingObservation(
        width=640, height=360, face=FaceBox(0.4, 0.2, 0.2, 0.35, 0.9),
        shoulders=(Landmark(0.3, 0.6, 1.0), Landmark(0.7, 0.6, 1.0)), wrists=wrists,
        elbows=(Landmark(0.25, 0.75, 0.9), Landmark(0.75, 0.75, 0.9)), shoulder_angle=3.0,
        brightness=0.45, contrast=0.25, sharpness=0.06,
        thumbnail=bytes((i * 7 + n) % 256 for i in range(64 * 36)), scene=SCENE,
    )
    return dataclasses.replace(base, **changes)


def run(frames: list[FramingObservation], detector: FramingChangeDetector | None = None, start: float = 0, step: float = 1.0) -> list[tuple[str, float]]:
    """Feed one frame a second; return each change with the second it began."""
    detector = detector or FramingChangeDetector(FramingSettings())
    out = []
    for i, frame in enumerate(frames):
        for change in detector.observe(T0 + timedelta(seconds=start + i * step), frame):
            out.append((change.change, (change.at - T0).total_seconds()))
    return out


def live(count: int, start: int = 0, **changes: object) -> list[FramingObservation]:
    return [seen(start + i, **changes) for i in range(count)]


def test_an_ordinary_session_raises_nothing():
    assert run(live(60)) == []


def test_a_lost_face_counts_once_it_stays_lost_for_the_debounce_and_its_return_likewise():
    frames = live(10) + live(8, 10, face=None) + live(8, 20)
    assert run(frames) == [("face_lost", 10), ("face_returned", 18)]


def test_turning_away_for_a_moment_raises_nothing():
    frames = live(10) + live(3, 10, face=None) + live(10, 20) + live(4, 40, face=None) + live(10, 50)
    assert run(frames) == []


def test_lying_down_with_hysteresis_between_the_two_angles():
    tilted = live(10) + live(8, 10, shoulder_angle=85.0, face=None) + live(8, 20, shoulder_angle=45.0) + live(8, 30, shoulder_angle=20.0)
    # 45 degrees lies between the two thresholds: still lying, and the face (undetectable then) is not reported lost.
    assert run(tilted) == [("lying_down", 10), ("upright", 26)]


def test_a_wobble_around_one_threshold_raises_nothing():
    frames = [seen(i, shoulder_angle=50.0 + (10 if i % 3 == 0 else 0)) for i in range(40)]
    assert run(live(5) + frames) == []


def test_hands_leave_and_return_but_their_first_state_is_just_the_usual():
    hidden = (Landmark(0.3, 1.2, 0.9), Landmark(0.7, 0.8, 0.1))  # one below the frame, one barely visible
    half = (Landmark(0.3, 0.8, 0.4), Landmark(0.7, 0.8, 0.35))  # between the thresholds: no evidence
    assert run(live(10, wrists=hidden)) == []
    frames = live(10) + live(8, 10, wrists=hidden) + live(8, 20, wrists=half) + live(8, 30)
    assert run(frames) == [("hands_out_of_view", 10), ("hands_in_view", 26)]


def test_a_dark_even_picture_is_a_covered_camera_and_not_also_frozen_or_faceless():
    black = dataclasses.replace(seen(), brightness=0.01, contrast=0.005, face=None, shoulder_angle=None, wrists=None, thumbnail=bytes(64 * 36))
    frames = live(10) + [black] * 20 + live(8, 40)
    assert run(frames) == [("camera_covered", 10), ("camera_uncovered", 30)]


def test_a_dim_room_is_not_a_covered_camera():
    assert run(live(10) + live(20, 10, brightness=0.1, contrast=0.1)) == []


def test_the_same_picture_for_the_frozen_time_is_frozen_and_one_new_picture_unfreezes():
    frames = live(10) + [seen(10)] * 15 + live(5, 30)
    assert run(frames) == [("frozen", 11), ("unfrozen", 25)]  # from the first frame that repeats the one before


def test_a_new_place_for_twice_the_debounce_is_a_scene_change_once():
    frames = live(10) + live(15, 10, scene=OTHER_SCENE) + live(10, 30, scene=OTHER_SCENE)
    assert run(frames) == [("scene_changed", 10)]


def test_a_lighting_change_is_not_a_new_scene():
    brighter = bytes(min(255, int(v * 0.6 + 60)) for v in SCENE)
    assert scene_similarity(SCENE, brighter) > 0.99
    assert run(live(10) + live(20, 10, scene=brighter, brightness=0.6)) == []


def test_moving_away_and_coming_back_against_the_usual_face_size():
    far = FaceBox(0.45, 0.3, 0.08, 0.14, 0.8)
    frames = live(10) + live(8, 10, face=far) + live(8, 20)
    assert run(frames) == [("moved_away", 10), ("moved_closer", 18)]


def test_turning_the_camera_is_lying_down_and_not_also_a_new_scene():
    frames = live(10) + live(20, 10, shoulder_angle=88.0, face=None, scene=OTHER_SCENE)
    assert run(frames) == [("lying_down", 10)]


def test_half_seen_changes_do_not_survive_a_gap_in_the_frames():
    detector = FramingChangeDetector(FramingSettings())
    assert run(live(10) + live(3, 10, face=None), detector) == []
    assert run(live(3, 50, face=None) + live(5, 60), detector, start=60) == []  # 3 s before the gap, 3 after: no 5 s


def test_an_older_frame_is_ignored():
    detector = FramingChangeDetector(FramingSettings())
    run(live(10), detector)
    assert detector.observe(T0, seen(face=None)) == []


def test_the_shoulder_angle_is_measured_in_pixels_and_needs_both_shoulders():
    assert shoulder_angle(Landmark(0.4, 0.5, 1), Landmark(0.6, 0.5, 1), 640, 360) == 0
    assert round(shoulder_angle(Landmark(0.5, 0.3, 1), Landmark(0.5, 0.7, 1), 640, 360)) == 90
    assert shoulder_angle(Landmark(0.4, 0.5, 0.2), Landmark(0.6, 0.5, 1), 640, 360) is None
