"""The alert rule table, judged against a `now` passed in."""
from __future__ import annotations

import pytest

from bot.core import events as ev
from bot.core.alerts import ALERT_RULES, AlertSettings, find_alerts, next_alert_due
from bot.core.participants import RoleRules
from bot.core.session import build_state

from .builders import (
    CLIENT,
    MEETING,
    THERAPIST,
    VISITOR,
    at,
    ended,
    in_order,
    joined,
    left,
    started,
    video,
)

RULES = RoleRules(therapist_account_ids=frozenset({"HOST"}))
SETTINGS = AlertSettings(video_off_alert_seconds=60, video_off_repeat_seconds=300)
BASE = [started(), joined(1, THERAPIST), joined(5, CLIENT)]


def alerts(*events, now=None):
    state = build_state(MEETING, in_order(*BASE, *events), RULES)
    return [(a.kind, a.at) for a in find_alerts(state, SETTINGS, now or at(4000))]


def test_every_rule_is_in_the_table():
    assert set(ALERT_RULES) == {"third_party_joined", "client_screen_share", "recording_started", "client_video_off", "framing_changed"}


def test_a_third_person_joining_is_an_alert_once_even_after_rejoining():
    found = alerts(joined(600, VISITOR), left(700, VISITOR), joined(800, VISITOR))
    assert found == [("third_party_joined", at(600))]


def test_the_client_sharing_the_screen_is_an_alert_but_the_therapist_sharing_is_not():
    found = alerts(
        ev.SharingStarted(MEETING, at(100), participant=THERAPIST),
        ev.SharingStarted(MEETING, at(200), participant=CLIENT),
    )
    assert found == [("client_screen_share", at(200))]


def test_recording_started_is_an_alert():
    assert alerts(ev.RecordingStarted(MEETING, at(300))) == [("recording_started", at(300))]


@pytest.mark.parametrize(
    "now_s, expected",
    [
        (159, []),  # off for 59 s
        (160, [at(160)]),  # exactly the threshold
        (459, [at(160)]),
        (460, [at(160), at(460)]),  # first repeat
    ],
)
def test_client_video_off_is_judged_against_now(now_s, expected):
    found = alerts(video(100, CLIENT, False), now=at(now_s))
    assert [when for kind, when in found if kind == "client_video_off"] == expected


def test_video_off_shorter_than_the_threshold_raises_nothing():
    assert alerts(video(100, CLIENT, False), video(159, CLIENT, True)) == []


def test_video_off_ending_with_the_meeting_raises_up_to_the_end_only():
    found = alerts(video(100, CLIENT, False), ended(200), now=at(5000))
    assert found == [("client_video_off", at(160))]


def test_alert_messages_carry_no_names():
    state = build_state(MEETING, in_order(*BASE, joined(600, VISITOR), video(700, CLIENT, False)), RULES)
    for alert in find_alerts(state, SETTINGS, at(2000)):
        assert "Visitor" not in alert.message and "Client" not in alert.message


def test_next_alert_due_follows_the_open_interval():
    state = build_state(MEETING, in_order(*BASE, video(100, CLIENT, False)), RULES)
    assert next_alert_due(state, SETTINGS, at(120)) == at(160)
    assert next_alert_due(state, SETTINGS, at(160)) == at(460)
    closed = build_state(MEETING, in_order(*BASE, video(100, CLIENT, False), video(130, CLIENT, True)), RULES)
    assert next_alert_due(closed, SETTINGS, at(120)) is None


def test_alert_keys_are_stable_so_raising_is_idempotent():
    events = in_order(*BASE, joined(600, VISITOR), video(700, CLIENT, False))
    first = find_alerts(build_state(MEETING, events, RULES), SETTINGS, at(2000))
    second = find_alerts(build_state(MEETING, in_order(*reversed(events)), RULES), SETTINGS, at(2000))
    assert [a.key for a in first] == [a.key for a in second]
    assert len({a.key for a in first}) == len(first)


def test_a_third_persons_alert_has_one_key_whichever_events_are_known_yet():
    visitor = [joined(600, VISITOR), left(700, VISITOR)]
    everything = build_state(MEETING, in_order(*BASE, *visitor), RULES)
    # As judged when the visitor's events arrived before the therapist's (the roster is built in another order).
    early = build_state(MEETING, in_order(started(), joined(5, CLIENT), *visitor), RULES)
    keys = [[a.key for a in find_alerts(s, SETTINGS, at(4000)) if a.kind == "third_party_joined"] for s in (everything, early)]
    assert keys[0] == keys[1] and len(keys[0]) == 1
    assert "Visitor" not in keys[0][0]


def framing(offset: int, change: str, source: str = "analysis") -> ev.FramingChanged:
    return ev.FramingChanged(meeting=MEETING, at=at(offset), change=change, detail="shoulder line 80°", source=source)


def test_what_the_analysis_sees_the_guidance_watch_for_is_an_alert_and_a_return_is_not():
    found = alerts(framing(900, "lying_down"), framing(1200, "upright"), framing(1500, "camera_covered"), framing(1600, "lying_down", "therapist"))
    assert [(kind, when) for kind, when in found if kind == "framing_changed"] == [("framing_changed", at(900)), ("framing_changed", at(1500))]
    state = build_state(MEETING, in_order(*BASE, framing(900, "lying_down")), RULES)
    (alert,) = [a for a in find_alerts(state, SETTINGS, at(4000)) if a.kind == "framing_changed"]
    assert alert.message == "The client seems to be lying down." and "80" not in alert.message  # the detail stays in the record
