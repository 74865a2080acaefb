"""The evaluation queue (bot/tracking/evaluation.py): sessions judged in passes, each once per pass, on a real tracker and store."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.core import events as ev
from bot.storage.store import session_id_for
from bot.tracking.evaluation import EvaluationQueue
from bot.web import keys
from bot.web.app import create_app
from tests.bot.timekeeping.harness import CLIENT, MEETING, SESSION, T0, THERAPIST, Clock, Harness, joined, started
from tests.conftest import THERAPIST_A_HOST

OTHERS = [ev.MeetingRef("zoom", f"uuid-other-{n}==", f"8574606{n:04d}", THERAPIST_A_HOST) for n in range(3)]


@pytest.fixture
async def harness(settings):
    async with Harness(settings, Clock(T0 + timedelta(minutes=5))) as harness:
        yield harness


def judged_sessions(harness: Harness, fail_for: str | None = None) -> list[str]:
    """Return the list the tracker appends each judged session's id to (its after-evaluation hook)."""
    judged: list[str] = []

    async def hook(view, now, writes):
        judged.append(view.row.id)
        if view.row.id == fail_for:
            raise RuntimeError("a judging that fails")

    harness.tracker.after_evaluation.append(hook)
    return judged


async def record(harness: Harness, meeting: ev.MeetingRef, n: int) -> str:
    """Store the nth delivery of a meeting (its start, then the client's camera going off and on); return its session."""
    event: ev.MeetingEvent = ev.MeetingStarted(meeting=meeting, at=T0, scheduled_start=None, scheduled_minutes=50) if n == 0 else (
        ev.VideoStateChanged(meeting=meeting, at=T0 + timedelta(seconds=n), participant=CLIENT, on=n % 2 == 0)
    )
    recorded = await harness.tracker.record(meeting, [(f"delivery-{n}", event)])
    assert recorded.session_id is not None
    return recorded.session_id


async def test_a_burst_of_one_sessions_deliveries_is_judged_once(harness):
    judged = judged_sessions(harness)
    queue = EvaluationQueue(harness.tracker, gather_seconds=1.0)  # the pass waits longer than the burst lasts
    queue.start()
    try:
        for n in range(5):  # a join storm: deliveries stored and submitted one after the other, as the webhook does
            queue.submit(await record(harness, MEETING, n))
        assert queue.depth == 1
        await queue.drain()
        assert queue.depth == 0
        assert judged == [SESSION]
    finally:
        await queue.stop()


async def test_sessions_touched_during_a_pass_wait_for_the_next_one_to_gather_too(harness):
    sessions = [await record(harness, meeting, 0) for meeting in OTHERS]
    passes: list[list[str]] = []
    judge_many = harness.tracker.evaluate_many

    async def evaluate_many(session_ids, stop=lambda: False):
        passes.append(list(session_ids))
        return await judge_many(session_ids, stop)

    harness.tracker.evaluate_many = evaluate_many
    queue = EvaluationQueue(harness.tracker, gather_seconds=0.5)
    first_judged = asyncio.Event()

    async def hook(view, now, writes):
        if not first_judged.is_set():
            queue.submit(sessions[1])  # a delivery during the first pass
            first_judged.set()

    harness.tracker.after_evaluation.append(hook)
    queue.start()
    try:
        queue.submit(sessions[0])
        await first_judged.wait()
        await asyncio.sleep(0.05)
        queue.submit(sessions[2])  # and one just after it: both judged in the next pass, not one pass each
        await queue.drain()
        assert passes == [[sessions[0]], [sessions[1], sessions[2]]]
    finally:
        await queue.stop()


async def test_each_session_touched_is_judged_once_a_pass_in_the_order_first_touched(harness):
    judged = judged_sessions(harness)
    queue = EvaluationQueue(harness.tracker)
    sessions = [await record(harness, meeting, 0) for meeting in OTHERS]
    for session_id in [sessions[2], sessions[0], sessions[2], sessions[1], sessions[0]]:
        queue.submit(session_id)
    assert queue.depth == 3
    queue.start()
    try:
        await queue.drain()
        assert judged == [sessions[2], sessions[0], sessions[1]]
    finally:
        await queue.stop()


async def test_a_session_touched_while_judged_is_judged_again_with_what_came_in(harness):
    queue = EvaluationQueue(harness.tracker)
    states = []

    async def hook(view, now, writes):
        states.append(len(view.state.roster.people))
        if len(states) == 1:  # a delivery arrives while the session is being judged
            await harness.tracker.record(MEETING, [("late", joined(THERAPIST, T0 + timedelta(seconds=30)))])
            queue.submit(SESSION)

    harness.tracker.after_evaluation.append(hook)
    await harness.tracker.record(MEETING, [("start", started(T0)), ("client", joined(CLIENT, T0 + timedelta(seconds=5)))])
    queue.start()
    try:
        queue.submit(SESSION)
        await queue.drain()
        assert states == [1, 2]  # the second pass saw the therapist who joined during the first
    finally:
        await queue.stop()


async def test_a_session_whose_judging_fails_does_not_stop_the_others(harness, caplog):
    sessions = [await record(harness, meeting, 0) for meeting in OTHERS]
    judged = judged_sessions(harness, fail_for=sessions[0])
    queue = EvaluationQueue(harness.tracker)
    queue.start()
    try:
        for session_id in sessions:
            queue.submit(session_id)
        await queue.drain()
        assert sorted(judged) == sorted(sessions)
        assert f"judging session {sessions[0]} failed" in caplog.text
    finally:
        await queue.stop()


async def test_stopping_leaves_the_sessions_not_yet_judged(harness):
    queue = EvaluationQueue(harness.tracker)
    stop_now = asyncio.Event()

    async def hook(view, now, writes):
        stop_now.set()
        await asyncio.sleep(0.05)

    harness.tracker.after_evaluation.append(hook)
    sessions = [await record(harness, meeting, 0) for meeting in OTHERS]
    for session_id in sessions:
        queue.submit(session_id)
    queue.start()
    await stop_now.wait()
    await queue.stop()
    assert queue.depth == 2  # the first was finished; the next start judges the recent sessions again


async def test_metrics_show_the_sessions_waiting_to_be_judged(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    queue = client.app[keys.EVALUATION]
    await queue.drain()
    queue.submit(session_id_for("zoom", "never-stored=="))  # judged as nothing: no such session
    text = await (await client.get("/metrics")).text()
    assert "companion_evaluation_backlog 1.0" in text
    await queue.drain()
    text = await (await client.get("/metrics")).text()
    assert "companion_evaluation_backlog 0.0" in text


async def test_sessions_waited_for_are_judged_once_with_those_already_asked_for_and_a_failure_is_said(harness):
    judged = judged_sessions(harness, fail_for=session_id_for("zoom", OTHERS[1].occurrence_id))
    sessions = [await record(harness, meeting, 0) for meeting in OTHERS]
    queue = EvaluationQueue(harness.tracker, gather_seconds=0.2)
    queue.start()
    try:
        queue.ask(sessions[:2])  # the start's recent sessions
        assert queue.ask(sessions[:2]) == sessions[:2] and queue.depth == 2  # asked again before their pass: still once
        ok = await queue.judged(sessions)  # the overdue timers' sessions, the same and one more
        assert ok == {sessions[0], sessions[2]}  # the second's judging failed: its timers stay pending
        assert sorted(judged) == sorted(sessions)
        queue.submit(sessions[0])  # touched by a new event: judged again, as ever
        await queue.drain()
        assert judged.count(sessions[0]) == 2
    finally:
        await queue.stop()


async def test_waiting_for_sessions_ends_without_them_when_the_queue_stops(harness):
    sessions = [await record(harness, meeting, 0) for meeting in OTHERS]
    queue = EvaluationQueue(harness.tracker, gather_seconds=5.0)  # the pass would begin after the stop
    queue.start()
    waiting = asyncio.create_task(queue.judged(sessions))
    await asyncio.sleep(0.05)
    await queue.stop()
    assert await asyncio.wait_for(waiting, 1.0) == set()
