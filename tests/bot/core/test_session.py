"""The session fold: events in their own time order, and at one instant, leaves before rejoins."""
from __future__ import annotations

import random

import pytest

from bot.core.alerts import AlertSettings, find_alerts
from bot.core.participants import RoleRules
from bot.core.session import build_state
from bot.core.summary import SessionRecord, build_summary

from .builders import (
    CLIENT,
    CLIENT_AGAIN,
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


def spans(person) -> list[tuple]:
    return [(i.joined_at, i.left_at) for i in person.intervals]


def named(state, name: str):
    return next(p for p in state.roster.people if p.name == name)


@pytest.mark.parametrize("again", [CLIENT_AGAIN, CLIENT], ids=["new-per-join-id", "same-per-join-id"])
def test_a_client_who_leaves_and_rejoins_within_one_second_is_shown_present(again):
    events = in_order(started(), joined(1, THERAPIST), joined(10, CLIENT), left(100, CLIENT), joined(100, again), ended(300))
    state = build_state(MEETING, events, RULES)
    client = state.roster.client
    assert spans(client) == [(at(10), at(300))]
    assert client.present_at(at(100)) and client.present_at(at(200))
    assert [t.event for t in state.timeline if t.at == at(100)] == ["participant_left", "participant_joined"]


@pytest.mark.parametrize("again", [CLIENT_AGAIN, CLIENT], ids=["new-per-join-id", "same-per-join-id"])
def test_the_video_of_a_client_back_within_the_second_is_followed_again(again):
    events = in_order(
        started(), joined(1, THERAPIST), joined(10, CLIENT), left(100, CLIENT), joined(100, again),
        video(100, again, False), video(160, again, True), ended(300),
    )
    state = build_state(MEETING, events, RULES)
    assert [(i.start, i.end) for i in state.video_off] == [(at(100), at(160))]


def test_a_visitor_who_joins_and_leaves_within_one_second_has_come_and_gone():
    events = in_order(started(), joined(1, THERAPIST), joined(10, CLIENT), joined(200, VISITOR), left(200, VISITOR), ended(300))
    state = build_state(MEETING, events, RULES)
    visitor = named(state, "Visitor")
    assert spans(visitor) == [(at(200), at(200))]
    assert not visitor.present_at(at(200)) and not visitor.present_at(at(250))
    assert [(t.event, t.person.name) for t in state.timeline if t.at == at(200)] == [
        ("participant_joined", "Visitor"), ("participant_left", "Visitor"),
    ]
    assert "third_party_joined" in [a.kind for a in find_alerts(state, AlertSettings(), at(300))]


def test_a_second_device_on_for_one_second_leaves_the_first_connected():
    phone = CLIENT_AGAIN
    events = in_order(started(), joined(1, THERAPIST), joined(10, CLIENT), joined(100, phone), left(100, phone), ended(300))
    client = build_state(MEETING, events, RULES).roster.client
    assert spans(client) == [(at(10), at(300))]
    assert client.connections[CLIENT.user_id][0].left_at == at(300)  # the laptop stayed until the end
    assert [(i.joined_at, i.left_at) for i in client.connections[phone.user_id]] == [(at(100), at(100))]


def summary_of(events) -> dict:
    state = build_state(MEETING, in_order(*events), RULES)
    alerts = find_alerts(state, AlertSettings(), at(300))
    return build_summary(SessionRecord("s1", "t1"), state, alerts, at(300))


def test_the_summary_does_not_depend_on_the_order_events_arrive_in():
    events = [
        started(), joined(1, THERAPIST), joined(10, CLIENT), video(50, CLIENT, False), left(100, CLIENT),
        joined(100, CLIENT), video(100, CLIENT, True), joined(200, VISITOR), left(200, VISITOR), ended(300),
    ]
    expected = summary_of(events)
    for seed in range(20):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        assert summary_of(shuffled) == expected, seed
    assert [p["intervals"] for p in expected["participants"] if p["role"] == "client"] == [
        [{"joined_at": "2026-11-20T10:00:10Z", "left_at": "2026-11-20T10:05:00Z"}]
    ]
