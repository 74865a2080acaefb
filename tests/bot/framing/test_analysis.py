"""The framing analysis on real photographs with the real models, and the detector on what it sees (bot/framing/analysis.py)."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Callable

import cv2
import numpy as np
import pytest

from bot.core.framing import THUMBNAIL_SIZE, FramingObservation, FramingSettings
from bot.core.framing_changes import FramingChangeDetector
from bot.framing import analysis

from . import photos as P

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
# Shorter holds than the defaults keep the number of analysed frames (and the suite's time) small.
SETTINGS = FramingSettings(debounce_seconds=3.0, frozen_seconds=5.0)


@pytest.fixture(scope="module")
def look() -> Callable[[str, np.ndarray], FramingObservation]:
    """Analyse a frame once per module (each costs tens of milliseconds), in this process."""
    seen: dict[str, FramingObservation] = {}

    def observe(name: str, rgb: np.ndarray) -> FramingObservation:
        if name not in seen:
            result = analysis.analyse(P.jpeg(rgb))
            assert result is not None
            seen[name] = result
        return seen[name]

    return observe


def variants(look, name: str, rgb: np.ndarray) -> list[FramingObservation]:
    """Return three live looks of one picture: camera noise differs frame to frame."""
    return [look(f"{name}/noise{seed}", P.noisy(rgb, seed, 5.0)) for seed in range(3)]


def stretch(frames: list[FramingObservation], seconds: int) -> list[FramingObservation]:
    return list(itertools.islice(itertools.cycle(frames), seconds))


def changes(frames: list[FramingObservation]) -> list[str]:
    detector = FramingChangeDetector(SETTINGS)
    return [c.change for i, f in enumerate(frames) for c in detector.observe(T0 + timedelta(seconds=i), f)]


def test_a_person_is_seen_with_face_shoulders_and_measures(look):
    grace = look("grace", P.grace_hopper())
    assert grace.face is not None and 0.1 < grace.face.share < 0.5
    assert grace.shoulder_angle is not None and grace.shoulder_angle < 15
    assert not grace.hands_seen(0.5)  # her hands are below the picture
    assert (grace.width, grace.height) == (640, 360) and len(grace.thumbnail) == THUMBNAIL_SIZE[0] * THUMBNAIL_SIZE[1]
    assert 0.2 < grace.brightness < 0.6 and grace.contrast > 0.1 and grace.sharpness > 0.01
    for name, rgb in (("astronaut", P.astronaut()), ("cameraman", P.cameraman())):
        person = look(name, rgb)
        assert person.face is not None and person.shoulder_angle is not None and person.shoulder_angle < 30, name


def test_no_person_in_an_empty_scene_and_nothing_in_a_black_frame(look):
    coffee = look("coffee", P.coffee())
    assert coffee.face is None and coffee.shoulders is None
    dark = look("black", P.black())
    assert dark.face is None and dark.brightness < 0.01 and dark.contrast < 0.01


def test_a_turned_picture_has_a_steep_shoulder_line_and_no_face(look):
    turned = look("turned", P.turned(P.grace_hopper_photo()))
    assert turned.shoulder_angle is not None and turned.shoulder_angle > 70
    assert turned.face is None  # why the detector does not ask for a face while the shoulders say lying


def test_an_unreadable_frame_is_none():
    assert analysis.analyse(b"\xff\xd8 not a picture") is None


def test_noise_jitter_lighting_and_a_glance_away_raise_nothing(look):
    g = P.grace_hopper()
    live = variants(look, "grace", g) + [
        look("jitter1", P.shifted(g, 6, -4)), look("jitter2", P.shifted(g, -5, 3)),
        look("dimmer", P.lit(g, 0.8)), look("brighter", P.lit(g, 1.15, 5)),
    ]
    glance = [look("out", P.shifted(g, 420)), look("out2", P.shifted(g, 430))]
    assert changes(stretch(live, 20) + glance + stretch(live[::-1], 20)) == []


@pytest.mark.parametrize(
    ("name", "picture", "expected"),
    [
        ("turned", lambda g: P.turned(P.grace_hopper_photo()), ["lying_down", "upright"]),
        ("face", lambda g: P.crop(g, 0.22, 0.0, 0.6, 0.7), ["moved_closer", "moved_away"]),
        ("shrunk", lambda g: P.shrunk(g), ["moved_away", "moved_closer"]),
        ("black", lambda g: P.black(), ["camera_covered", "camera_uncovered"]),
        ("covered", P.covered, ["camera_covered", "camera_uncovered"]),
        # Shifting the picture moves the room as well as the person: that is a new scene too.
        ("out", lambda g: P.shifted(g, 420), ["face_lost", "scene_changed", "face_returned", "scene_changed"]),
        ("coffee", lambda g: P.coffee(), ["face_lost", "scene_changed", "face_returned", "scene_changed"]),
    ],
)
def test_each_transformation_raises_its_change_and_its_return(look, name, picture, expected):
    g = P.grace_hopper()
    live = variants(look, "grace", g)
    # A black frame has no noise to vary: its repeats must read as covered, not as frozen.
    changed = [look(name, picture(g))] * 3 if name == "black" else variants(look, name, picture(g))
    assert changes(stretch(live, 8) + stretch(changed, 12) + stretch(live, 12)) == expected


def test_the_same_frame_repeated_is_frozen_until_the_picture_moves(look):
    live = variants(look, "grace", P.grace_hopper())
    assert changes(stretch(live, 8) + [live[0]] * 10 + stretch(live, 6)) == ["frozen", "unfrozen"]


def test_each_frame_is_judged_on_its_own_whatever_came_before():
    """The pose model runs in still-image mode: its video (tracking) mode carries the last frame's region over,
    and on these frames it keeps a turned picture's shoulders level (no lying_down) and finds a body in an empty room."""
    turned = P.jpeg(P.turned(P.grace_hopper_photo()))
    alone = analysis.analyse(turned)
    for seed in range(3):
        analysis.analyse(P.jpeg(P.noisy(P.grace_hopper(), seed, 5.0)))
    after = analysis.analyse(turned)
    assert after == alone and after is not None and after.shoulder_angle is not None and after.shoulder_angle > 70


def test_a_frame_larger_than_needed_is_decoded_smaller_and_reads_the_same():
    sd = analysis.analyse(P.jpeg(P.grace_hopper()))
    hd = analysis.analyse(P.jpeg(cv2.resize(P.grace_hopper(), (1280, 720), interpolation=cv2.INTER_CUBIC)))
    assert sd is not None and hd is not None and sd.face is not None and hd.face is not None
    assert (hd.width, hd.height) == (640, 360)
    assert abs(hd.face.width - sd.face.width) < 0.02 and abs(hd.shoulder_angle - sd.shoulder_angle) < 3  # type: ignore[operator]
    assert abs(hd.brightness - sd.brightness) < 0.01 and abs(hd.contrast - sd.contrast) < 0.01
