"""Which event times the service believes (bot/core/validity.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.core import events as ev
from bot.core.validity import EventRejected, accepted

NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
MEETING = ev.MeetingRef("zoom", "occ==", "85746065432", "host")


@pytest.mark.parametrize("at", [datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone.utc), NOW + timedelta(days=733), datetime(1, 1, 1, tzinfo=timezone.utc)])
def test_an_event_outside_the_window_is_rejected(at):
    with pytest.raises(EventRejected, match="outside 2000 to two years from now"):
        accepted(ev.MeetingStarted(meeting=MEETING, at=at), NOW)


@pytest.mark.parametrize("at", [datetime(2000, 1, 1, tzinfo=timezone.utc), NOW, NOW + timedelta(days=700)])
def test_an_event_inside_the_window_is_kept_as_it_is(at):
    event = ev.ParticipantJoined(meeting=MEETING, at=at)
    assert accepted(event, NOW) is event


@pytest.mark.parametrize("start", ["tomorrow", "9999-12-31T23:59:59Z", ""])
def test_a_planned_start_that_cannot_be_read_is_dropped_and_the_start_kept(start):
    started = ev.MeetingStarted(meeting=MEETING, at=NOW, scheduled_start=start, scheduled_minutes=50)
    kept = accepted(started, NOW)
    assert kept.scheduled_start == "" and kept.at == NOW and kept.scheduled_minutes == 50


def test_a_change_of_plan_is_judged_by_its_occurrences_not_by_when_it_was_sent():
    plan = ev.MeetingScheduled(meeting=MEETING, at=datetime(1970, 1, 1, tzinfo=timezone.utc), occurrences=(ev.Occurrence("2026-12-01T10:00:00Z", 50),))
    assert accepted(plan, NOW) is plan
    for start in ("next tuesday", "0001-01-01T00:00:00Z"):
        with pytest.raises(EventRejected, match="occurrence"):
            accepted(ev.MeetingCancelled(meeting=MEETING, at=NOW, occurrences=(ev.Occurrence(start, 0),)), NOW)
