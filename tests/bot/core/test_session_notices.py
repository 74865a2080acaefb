"""The start reminder and summary notice: worded once, so each waits for what a late event could change."""
from __future__ import annotations

from datetime import timedelta

from bot.core.due_work import NOTICE_SETTLE
from bot.core.participants import RoleRules
from bot.core.record import ChecklistItem
from bot.core.session import build_state
from bot.core.session_notices import SETTLE, session_notices, settle_timers, settled

from .builders import CLIENT, MEETING, THERAPIST, at, ended, in_order, joined, started

RULES = RoleRules(therapist_account_ids=frozenset({"HOST"}))
CHECKLIST = [ChecklistItem("a", "A"), ChecklistItem("b", "B", at(-600)), ChecklistItem("c", "C", at(120))]


def notices(*events, code="C-17", quiet=False, checklist=CHECKLIST):
    state = build_state(MEETING, in_order(*events), RULES)
    found = session_notices("s1", state, code, checklist, quiet)
    return [(n.kind, n.at, n.message) for n in found.due], list(found.waiting)


def test_the_start_reminder_counts_the_points_still_open_at_the_start():
    due, waiting = notices(started(), joined(1, THERAPIST), joined(5, CLIENT))
    assert due == [("start_reminder", at(0), "The session with C-17 has started; 2 of 3 checklist points are not confirmed.")]
    assert waiting == []


def test_no_start_reminder_when_every_point_was_confirmed_by_the_start():
    done = [ChecklistItem("a", "A", at(-1)), ChecklistItem("b", "B", at(0))]
    assert notices(started(), checklist=done) == ([], [])


def test_the_start_reminder_waits_for_the_start_event_and_the_client():
    assert notices(joined(1, THERAPIST), joined(5, CLIENT)) == ([], ["start_reminder"])
    assert notices(started(), joined(1, THERAPIST), code=None) == ([], ["start_reminder"])
    due, _ = notices(started(), code=None, quiet=True)
    assert due == [("start_reminder", at(0), "The session with the client has started; 2 of 3 checklist points are not confirmed.")]


def test_the_summary_notice_waits_for_the_client_unless_the_deliveries_are_quiet():
    assert notices(started(), ended(60), code=None, checklist=[]) == ([], ["start_reminder", "summary_ready"])
    assert notices(started(), ended(60), checklist=[]) == ([("summary_ready", at(60), "The summary of the session with C-17 is ready.")], [])
    assert notices(started(), ended(60), code=None, quiet=True, checklist=[])[0] == [
        ("summary_ready", at(60), "The summary of the session with the client is ready."),
    ]


def test_deliveries_are_settled_a_minute_after_the_last_and_the_wait_wakes_then():
    assert not settled(at(0), at(59)) and settled(at(0), at(60)) and settled(None, at(0))
    state = build_state(MEETING, in_order(started(), ended(60)), RULES)
    waiting = session_notices("s1", state, None, CHECKLIST, False)
    (wake, summary_wake) = settle_timers("s1", "t1", waiting, at(70))
    assert {wake.kind, summary_wake.kind} == {NOTICE_SETTLE}
    assert wake.due_at == at(70) + SETTLE == at(70) + timedelta(seconds=60)
    assert wake.key != summary_wake.key
