"""One timer for every request's deadline: a task past it gets TimeoutError as under asyncio.timeout, any other stays itself."""
from __future__ import annotations

import asyncio

import pytest

from bot.web.deadlines import Deadline, Deadlines


async def held(deadlines: Deadlines, seconds: float) -> tuple[str, Deadline]:
    deadline = deadlines.hold()
    try:
        async with deadline:
            await asyncio.sleep(seconds)
    except TimeoutError:
        return "timed out", deadline
    return "done", deadline


async def test_only_the_tasks_past_their_deadline_time_out_and_a_deadline_is_at_most_a_tick_late():
    deadlines = Deadlines(0.2, tick=0.02)
    loop = asyncio.get_running_loop()
    started = loop.time()
    outcomes = await asyncio.gather(*(held(deadlines, 5.0 if n % 5 == 0 else 0.01) for n in range(50)))
    assert loop.time() - started < 1.0
    assert [said for said, _ in outcomes] == ["timed out" if n % 5 == 0 else "done" for n in range(50)]
    assert [deadline.expired() for _, deadline in outcomes] == [n % 5 == 0 for n in range(50)]
    assert deadlines.seconds == outcomes[0][1].seconds == 0.2


async def test_the_timer_stops_once_nothing_is_held_and_starts_again_for_the_next():
    deadlines = Deadlines(0.1, tick=0.02)
    said, deadline = await held(deadlines, 0.0)
    assert said == "done" and not deadline.expired()
    await asyncio.sleep(0.1)  # a few ticks: the timer's check found nothing held, and stopped
    said, deadline = await held(deadlines, 5.0)
    assert said == "timed out" and deadline.expired()


async def test_a_cancellation_from_elsewhere_stays_a_cancellation_and_the_codes_own_timeout_is_not_the_deadlines():
    deadlines = Deadlines(5.0, tick=0.02)
    task = asyncio.create_task(held(deadlines, 5.0))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = deadlines.hold()
    with pytest.raises(TimeoutError):
        async with deadline:
            async with asyncio.timeout(0.01):  # e.g. an outbound call's own limit
                await asyncio.sleep(1)
    assert not deadline.expired()
