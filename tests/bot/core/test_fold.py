"""The session folded one event at a time equals the session folded from all its events, whatever order they came in."""
from __future__ import annotations

import dataclasses
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import events as ev
from bot.core.alerts import AlertSettings, find_alerts
from bot.core.changes import session_changes
from bot.core.fold import SessionFold
from bot.core.participants import RoleRules, Roster
from bot.core.session import MeetingState, build_state
from bot.core.summary import SessionRecord, build_summary

from .builders import CLIENT, CLIENT_AGAIN, MEETING, THERAPIST, VISITOR, at

RULES = RoleRules(therapist_account_ids=frozenset({"HOST"}))
RTMS_CLIENT = ev.ParticipantRef(user_id="200")  # a camera report names the client by their per-join id alone
# New refs of known people are applied in place when nothing else can change: the tricky ones here must not be.
PEOPLE = (
    THERAPIST, CLIENT, CLIENT_AGAIN, VISITOR, RTMS_CLIENT, ev.ParticipantRef(user_id="400", name="Guest"),
    ev.ParticipantRef(user_id="203", stable_id="uuid-c", name="Client"),  # the client reconnected once more
    ev.ParticipantRef(user_id="203"),  # that connection named alone (a camera report may come before its join)
    ev.ParticipantRef(user_id="300", stable_id="uuid-x", name="Other"),  # someone else on the visitor's old connection id
    ev.ParticipantRef(user_id="HOST", stable_id="uuid-v", name="Visitor"),  # the visitor back with the host's id
)
SETTINGS = AlertSettings(video_off_alert_seconds=30, video_off_repeat_seconds=60)


def make_event(kind: str, second: float, who: int, flag: bool) -> ev.MeetingEvent:
    """Return one event of a meeting, as a platform could report it."""
    when, person = at(second), PEOPLE[who % len(PEOPLE)]
    people = {
        "joined": ev.ParticipantJoined, "left": ev.ParticipantLeft, "waiting": ev.WaitingRoomJoined,
        "admitted": ev.ParticipantAdmitted, "share": ev.SharingStarted, "unshare": ev.SharingEnded,
    }
    if kind in people:
        return people[kind](MEETING, when, participant=person)
    if kind == "camera":
        return ev.VideoStateChanged(MEETING, when, participant=person, on=flag)
    if kind == "framing":
        return ev.FramingChanged(MEETING, when, change="lying_down" if flag else "upright", source="analysis")
    simple: dict[str, Any] = {
        "started": ev.MeetingStarted, "ended": ev.MeetingEnded, "recording": ev.RecordingStarted,
        "unrecording": ev.RecordingStopped, "stream": ev.StreamStarted, "closed": ev.SessionClosed,
    }
    return simple[kind](MEETING, when)


# Mostly camera reports, as a live session has; now and then anything else.
KINDS = ["camera"] * 12 + ["joined", "left"] * 3 + [
    "framing", "share", "unshare", "recording", "unrecording", "waiting", "admitted", "stream", "started", "ended", "closed",
]


_NO_ROSTER = Roster()


def facts(state: MeetingState) -> tuple[Any, ...]:
    """Return everything a state says, comparable by value (a roster compares by identity)."""
    return dataclasses.replace(state, roster=_NO_ROSTER), state.roster.people


def judged(state: MeetingState, now_seconds: float) -> tuple[Any, ...]:
    """Return what is judged of a state: its alerts, changes and summary."""
    now = at(now_seconds)
    alerts = find_alerts(state, SETTINGS, now)
    summary = build_summary(SessionRecord("s-1", "t1", "C-17"), state, alerts, now)
    return alerts, session_changes(state, now), summary


def arrivals(rng: random.Random, count: int, end_at: int) -> list[tuple[str, ev.MeetingEvent]]:
    """Return `count` keyed deliveries of a meeting in the order they arrive: mostly in time order, some late, some twice."""
    events = []
    second = 0.0
    for n in range(count):
        kind = rng.choice(KINDS) if n else "started"
        if kind in ("ended", "closed") and n < end_at:  # the end (or the watchdog's) comes late in the session
            kind = "camera"
        if kind == "started" and n and rng.random() < 0.9:  # a second start is rare
            kind = "camera"
        second += rng.choice((0, 0, 1, 1, 1, 2, 5, 0.25))  # whole seconds, as Zoom's, so instants are often shared
        events.append((f"k{n:05d}", make_event(kind, second, rng.randrange(len(PEOPLE)), rng.random() < 0.5)))
    arriving = list(events)
    for n in range(len(arriving)):  # some deliveries are late: moved a few places back
        if rng.random() < 0.05:
            m = min(len(arriving) - 1, n + rng.randrange(1, 12))
            arriving.insert(m, arriving.pop(n))
    for n in rng.sample(range(len(arriving)), len(arriving) // 20):  # and some come twice
        arriving.insert(min(len(arriving), n + rng.randrange(0, 30)), arriving[n])
    return arriving


def full_fold(held: dict[str, ev.MeetingEvent]) -> MeetingState:
    """Return the state folded from scratch, the events in the store's order."""
    ordered = sorted(held.items(), key=lambda pair: (pair[1].at, pair[1].rank, pair[0]))
    return build_state(MEETING, [event for _, event in ordered], RULES)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), count=st.integers(1, 70))
def test_every_step_of_a_short_session_equals_the_full_fold(seed: int, count: int) -> None:
    fold, held = SessionFold(MEETING, RULES), {}
    for key, event in arrivals(random.Random(seed), count, end_at=count - 5):
        fold.add([(key, event)])
        held.setdefault(key, event)
        expected = full_fold(held)
        state = fold.state()
        assert facts(state) == facts(expected)
        last = max(e.at for e in held.values())
        assert judged(state, (last - at(0)).total_seconds() + 90) == judged(expected, (last - at(0)).total_seconds() + 90)


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32))
def test_a_2000_event_session_event_by_event_equals_the_full_fold_at_every_checkpoint(seed: int) -> None:
    rng = random.Random(seed)
    deliveries = arrivals(rng, 2000, end_at=1980)
    checkpoints = set(rng.sample(range(len(deliveries)), 25)) | {len(deliveries) - 1}
    fold, held, in_place = SessionFold(MEETING, RULES), {}, 0
    for n, (key, event) in enumerate(deliveries):
        refolds = fold.refolds
        fold.add([(key, event)])
        in_place += fold.refolds == refolds and key not in held
        held.setdefault(key, event)
        if n in checkpoints:
            expected = full_fold(held)
            assert facts(fold.state()) == facts(expected), f"after delivery {n}"
            assert judged(fold.state(), 6000) == judged(expected, 6000), f"after delivery {n}"
    assert len(fold) == len(held) == 2000
    assert in_place > 1000  # most events (a live session's camera reports) were applied where they stood


def test_a_batch_of_deliveries_equals_them_one_by_one() -> None:
    deliveries = arrivals(random.Random(7), 300, end_at=280)
    one_by_one, batched = SessionFold(MEETING, RULES), SessionFold(MEETING, RULES)
    for key, event in deliveries:
        one_by_one.add([(key, event)])
    for start in range(0, len(deliveries), 17):
        batched.add(deliveries[start : start + 17])
    assert facts(one_by_one.state()) == facts(batched.state()) == facts(full_fold(dict(deliveries[::-1])))


def test_a_state_handed_out_is_not_changed_by_later_events() -> None:
    fold = SessionFold(MEETING, RULES)
    fold.add([("s", make_event("started", 0, 0, False)), ("t", make_event("joined", 1, 0, False)), ("c", make_event("joined", 2, 1, False))])
    fold.add([("off", make_event("camera", 10, 1, False))])
    before = fold.state()
    fold.add([("on", make_event("camera", 70, 1, True)), ("rec", make_event("recording", 80, 0, False))])
    assert before.video_off[0].end is None and before.recordings == [] and before.last_event_at == at(10)
    assert fold.state().video_off[0].end == at(70) and fold.refolds == 1  # the camera and the recording: in place


def test_a_known_person_reconnecting_under_a_new_user_id_is_applied_in_place() -> None:
    fold = SessionFold(MEETING, RULES)
    fold.add([("s", make_event("started", 0, 0, False)), ("t", make_event("joined", 1, 0, False)), ("c", make_event("joined", 2, 1, False))])
    refolds = fold.refolds
    fold.add([("l1", make_event("left", 60, 1, False)), ("j1", make_event("joined", 70, 2, False))])  # Zoom: a new user id
    fold.add([("l2", make_event("left", 80, 2, False)), ("j2", make_event("joined", 90, 6, False))])
    assert fold.refolds == refolds and [p.name for p in fold.state().roster.people] == ["Therapist", "Client"]
    held = {"s": make_event("started", 0, 0, False), "t": make_event("joined", 1, 0, False), "c": make_event("joined", 2, 1, False)}
    held |= {"l1": make_event("left", 60, 1, False), "j1": make_event("joined", 70, 2, False)}
    held |= {"l2": make_event("left", 80, 2, False), "j2": make_event("joined", 90, 6, False)}
    assert facts(fold.state()) == facts(full_fold(held))


def test_a_new_user_id_that_earlier_references_named_folds_every_event_again() -> None:
    fold = SessionFold(MEETING, RULES)
    fold.add([("s", make_event("started", 0, 0, False)), ("t", make_event("joined", 1, 0, False)), ("c", make_event("joined", 2, 1, False))])
    fold.add([("off", make_event("camera", 50, 7, False))])  # names connection 203 before it joins: nobody yet
    fold.add([("l", make_event("left", 60, 1, False))])
    refolds = fold.refolds
    fold.add([("j", make_event("joined", 70, 6, False))])  # the client's connection 203: the camera report was theirs
    assert fold.refolds == refolds + 1 and fold.state().video_off[0].start == at(50)


def test_new_rules_judge_the_same_events_again() -> None:
    fold = SessionFold(MEETING, RULES)
    fold.add([("t", make_event("joined", 1, 0, False)), ("v", make_event("joined", 2, 3, False)), ("c", make_event("joined", 3, 1, False))])
    assert fold.state().roster.client.name == "Visitor"  # first to join who is not the therapist
    fold.judge_with(dataclasses.replace(RULES, client_account_ids=frozenset({"uuid-c"})))
    assert fold.state().roster.client.name == "Client"
