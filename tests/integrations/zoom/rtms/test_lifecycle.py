"""Which stream a meeting should have open, and the reconnect delays (integrations/zoom/rtms/lifecycle.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.core import events as ev
from integrations.zoom.rtms.lifecycle import Backoff, stream_plan

M = ev.MeetingRef("zoom", "u==")
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def started(s: int, stream: str = "st1", url: str = "wss://rtms/1") -> ev.StreamStarted:
    return ev.StreamStarted(meeting=M, at=at(s), stream_id=stream, server_url=url)


def stopped(s: int, reason: int, stream: str = "st1") -> ev.StreamStopped:
    return ev.StreamStopped(meeting=M, at=at(s), stream_id=stream, reason=reason)


def test_no_stream_started_means_nothing_to_open():
    assert stream_plan([ev.MeetingStarted(meeting=M, at=at(0))]) is None


def test_a_started_stream_is_opened_as_asked():
    plan = stream_plan([ev.MeetingStarted(meeting=M, at=at(0)), started(5)])
    assert plan is not None and plan.stream.stream_id == "st1" and plan.asked_at == at(5)


@pytest.mark.parametrize("reason", [1, 6, 9])
def test_a_normal_stop_closes(reason):
    assert stream_plan([started(5), stopped(60, reason)]) is None


@pytest.mark.parametrize("reason", [10, 15, 19, 24])
def test_an_abnormal_stop_asks_for_a_reconnect(reason):
    plan = stream_plan([started(5), stopped(60, reason)])
    assert plan is not None and plan.asked_at == at(60)


def test_interruption_and_a_repeated_start_ask_for_reconnects_with_the_latest_url():
    plan = stream_plan([started(5), ev.StreamInterrupted(meeting=M, at=at(40), stream_id="st1"), started(90, url="wss://rtms/2")])
    assert plan is not None and plan.asked_at == at(90) and plan.stream.server_url == "wss://rtms/2"


def test_a_stop_of_another_stream_changes_nothing_and_the_meeting_end_closes_all():
    assert stream_plan([started(5), stopped(60, 1, stream="old")]) is not None
    assert stream_plan([started(5), ev.MeetingEnded(meeting=M, at=at(3000))]) is None
    assert stream_plan([started(5), ev.MeetingEnded(meeting=M, at=at(3000)), started(3001)]) is None


def test_backoff_doubles_from_3_to_30_seconds_for_a_bounded_number_of_attempts():
    assert list(Backoff().delays()) == [3, 6, 12, 24, 30, 30, 30, 30]
    assert list(Backoff(first=0.01, cap=0.04, attempts=4).delays()) == [0.01, 0.02, 0.04, 0.04]
