"""The client's video-off intervals from a source-neutral VideoStateChanged input."""
from __future__ import annotations

from bot.core.participants import RoleRules
from bot.core.session import build_state

from .builders import (
    CLIENT,
    CLIENT_AGAIN,
    MEETING,
    THERAPIST,
    at,
    ended,
    in_order,
    joined,
    left,
    started,
    video,
)

RULES = RoleRules(therapist_account_ids=frozenset({"HOST"}))
BASE = [started(), joined(1, THERAPIST), joined(5, CLIENT)]


def intervals(*events):
    state = build_state(MEETING, in_order(*BASE, *events), RULES)
    return [(i.start, i.end) for i in state.video_off]


def test_off_then_on_is_one_interval():
    assert intervals(video(120, CLIENT, False), video(300, CLIENT, True)) == [(at(120), at(300))]


def test_an_interval_closes_when_the_client_leaves():
    assert intervals(video(1500, CLIENT, False), left(1560, CLIENT)) == [(at(1500), at(1560))]


def test_an_interval_closes_at_the_meeting_end():
    assert intervals(video(1500, CLIENT, False), ended(1600)) == [(at(1500), at(1600))]


def test_an_interval_still_open_stays_open():
    assert intervals(video(1500, CLIENT, False)) == [(at(1500), None)]


def test_repeated_reports_change_nothing_and_other_peoples_video_is_ignored():
    result = intervals(
        video(100, CLIENT, False), video(110, CLIENT, False), video(115, THERAPIST, False),
        video(200, CLIENT, True), video(210, CLIENT, True),
    )
    assert result == [(at(100), at(200))]


def test_reports_by_a_reconnected_client_match_by_the_new_user_id():
    from bot.core.events import ParticipantRef

    rtms_ref = ParticipantRef(user_id="201")  # RTMS knows only the per-join id
    result = intervals(left(50, CLIENT), joined(60, CLIENT_AGAIN), video(70, rtms_ref, False), video(90, rtms_ref, True))
    assert result == [(at(70), at(90))]


def test_reports_while_the_client_is_away_are_ignored():
    assert intervals(left(50, CLIENT), video(70, CLIENT, False), ended(100)) == []


def test_order_of_arrival_does_not_matter():
    events = [video(300, CLIENT, True), video(120, CLIENT, False), video(1500, CLIENT, False), left(1560, CLIENT)]
    assert intervals(*events) == intervals(*reversed(events)) == [(at(120), at(300)), (at(1500), at(1560))]
