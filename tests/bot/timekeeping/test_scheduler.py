"""The APScheduler wiring: rows wake at their time (one job at the soonest), overdue ones at once and a few at a time, and re-planning a row that did not move changes nothing."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

from apscheduler.events import EVENT_JOB_ADDED, EVENT_JOB_MODIFIED, EVENT_JOB_REMOVED

from bot.core.due_work import DueRow, DueWork
from bot.timekeeping.scheduler import AT_ONCE, DueWorkScheduler


def due_in(row_id: int, seconds: float) -> DueRow:
    return DueRow(row_id, DueWork(f"k{row_id}", "test", datetime.now(timezone.utc) + timedelta(seconds=seconds), "t1"))


async def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def running() -> tuple[DueWorkScheduler, list[tuple[int, datetime]]]:
    """Return a scheduler started and resumed, and the rows it wakes with when, as they come."""
    woken: list[tuple[int, datetime]] = []

    async def fire(row_id: int) -> None:
        woken.append((row_id, datetime.now(timezone.utc)))

    scheduler = DueWorkScheduler()
    scheduler.start(fire)
    scheduler.resume()
    return scheduler, woken


async def test_rows_wake_at_their_time_once_and_a_removed_one_never():
    woken: list[tuple[int, datetime]] = []

    async def fire(row_id: int) -> None:
        woken.append((row_id, datetime.now(timezone.utc)))

    scheduler = DueWorkScheduler()
    scheduler.start(fire)
    soon, later, dropped = due_in(1, 0.4), due_in(2, 3600), due_in(3, 0.1)
    for row in (soon, later, dropped):
        scheduler.add(row)
    scheduler.remove(dropped.id)
    scheduler.resume()
    await wait_for(lambda: woken)
    await asyncio.sleep(0.3)
    assert [row_id for row_id, _ in woken] == [1]
    assert woken[0][1] >= soon.work.due_at
    assert scheduler.planned() == {2: later.work.due_at}
    scheduler.keep_only([])
    assert scheduler.planned() == {}
    await scheduler.shutdown()


async def test_replanning_a_row_whose_time_did_not_move_leaves_the_scheduler_alone():
    async def fire(row_id: int) -> None:
        pass

    scheduler = DueWorkScheduler()
    changes: list[int] = []
    scheduler._scheduler.add_listener(lambda event: changes.append(event.code), EVENT_JOB_ADDED | EVENT_JOB_MODIFIED | EVENT_JOB_REMOVED)
    scheduler.start(fire)
    scheduler.resume()
    row = due_in(5, 3600)
    scheduler.add(row)
    assert changes == [EVENT_JOB_ADDED]
    for _ in range(3):  # every evaluation plans the session's timers again
        scheduler.add(DueRow(row.id, row.work))
    assert changes == [EVENT_JOB_ADDED]
    later = DueRow(row.id, DueWork(row.work.key, "test", row.work.due_at + timedelta(minutes=5), "t1"))
    scheduler.add(later)  # moved later (a watchdog at every delivery): its wake-up comes first and queues it again then
    assert changes == [EVENT_JOB_ADDED] and scheduler.planned() == {5: later.work.due_at}
    sooner = DueRow(row.id, DueWork(row.work.key, "test", row.work.due_at - timedelta(minutes=5), "t1"))
    scheduler.add(sooner)  # moved sooner than the job wakes: the job armed again at once
    assert len(changes) == 2 and scheduler.planned() == {5: sooner.work.due_at}
    await scheduler.shutdown()


async def test_a_row_moved_later_again_and_again_wakes_once_at_its_last_time_not_before():
    scheduler, woken = running()
    scheduler.add(due_in(7, 0.2))
    for n in range(1, 4):  # moved later while its first wake-up waits, and after it has come
        scheduler.add(last := due_in(7, 0.2 + 0.15 * n))
        await asyncio.sleep(0.1 if n < 3 else 0)
    await wait_for(lambda: woken)
    await asyncio.sleep(0.3)
    assert [row_id for row_id, _ in woken] == [7] and woken[0][1] >= last.work.due_at
    assert scheduler.planned() == {}
    scheduler.add(again := due_in(7, 0.1))  # still pending after: planned again, it wakes again
    await wait_for(lambda: len(woken) == 2)
    assert woken[1][1] >= again.work.due_at
    await scheduler.shutdown()


async def test_overdue_rows_planned_while_paused_run_once_each_when_resumed_a_few_at_a_time():
    woken: list[int] = []
    at_once = most = 0

    async def fire(row_id: int) -> None:
        nonlocal at_once, most
        at_once += 1
        most = max(most, at_once)
        await asyncio.sleep(0.01)  # a row's statements
        woken.append(row_id)
        at_once -= 1

    scheduler = DueWorkScheduler()
    scheduler.start(fire)
    overdue = [due_in(n, -3600 + n) for n in range(1, 201)]
    for row in overdue + overdue:  # planned twice (start, then a reconcile): run once
        scheduler.add(row)
    await asyncio.sleep(0.05)
    assert woken == []  # paused: nothing runs before the service is up
    scheduler.resume()
    await wait_for(lambda: len(woken) == len(overdue))
    await asyncio.sleep(0.1)
    assert sorted(woken) == [row.id for row in overdue] and most == AT_ONCE
    assert scheduler.planned() == {}
    await scheduler.shutdown()


async def test_shutting_down_leaves_the_overdue_rows_still_waiting_alone():
    woken: list[int] = []

    async def fire(row_id: int) -> None:
        await asyncio.sleep(0.05)
        woken.append(row_id)

    scheduler = DueWorkScheduler()
    scheduler.start(fire)
    for n in range(1, 101):
        scheduler.add(due_in(n, -60))
    scheduler.resume()
    await asyncio.sleep(0.01)
    await scheduler.shutdown()
    assert len(woken) == AT_ONCE  # those already running finished; the others stay pending for the next start
    assert not scheduler.running


async def test_overdue_rows_planned_while_paused_are_caught_up_together_when_resumed_except_one_dropped_or_moved_later():
    caught: list[list[int]] = []

    async def fire(row_id: int) -> None:
        raise AssertionError(f"row {row_id} fired on its own")

    async def catch_up(row_ids: list[int]) -> None:
        caught.append(row_ids)

    scheduler = DueWorkScheduler()
    scheduler.start(fire, catch_up)
    for row_id in range(1, 6):
        scheduler.add(due_in(row_id, -60))  # all overdue at the start
    scheduler.remove(2)  # done meanwhile
    later = due_in(3, 3600)
    scheduler.add(later)  # moved later meanwhile
    scheduler.resume()
    await wait_for(lambda: caught)
    assert caught == [[1, 4, 5]]
    assert scheduler.planned() == {3: later.work.due_at}
    await scheduler.shutdown()


async def test_paused_and_resumed_again_and_again_it_wakes_only_while_running_and_its_repeating_jobs_wait_not_lost():
    woken: list[int] = []
    housekeeping: list[int] = []

    async def fire(row_id: int) -> None:
        woken.append(row_id)

    async def job() -> None:
        housekeeping.append(1)

    scheduler = DueWorkScheduler()
    scheduler.start(fire)
    for turn in range(3):
        scheduler.pause()  # the lead lost: every wake-up dropped at once, rows planned meanwhile not taken
        assert scheduler.planned() == {}
        if turn == 0:
            scheduler.every(1, "housekeeping", job)  # a platform's job registered while standing by, due at once: it waits
        scheduler.add(due_in(100 + turn, 0.05))
        scheduler.add(due_in(200 + turn, -60))
        await asyncio.sleep(0.15)
        assert woken == [] and housekeeping == ([] if turn == 0 else [1]) and scheduler.planned() == {}
        scheduler.take_rows()  # the lead taken (again): the pending rows planned, the overdue held until resumed
        scheduler.add(due_in(turn + 1, -60))
        later = due_in(10 + turn, 3600)
        scheduler.add(later)
        scheduler.resume()
        await wait_for(lambda turn=turn: woken == [turn + 1] and housekeeping == [1])  # the job ran once, at the first resume
        assert scheduler.planned() == {later.id: later.work.due_at}
        woken.clear()
    await scheduler.shutdown()


async def test_many_rows_wake_each_at_its_time_through_one_job_and_the_dropped_ones_never():
    scheduler, woken = running()
    rows = {n: due_in(n, 0.1 + 0.03 * (n % 10)) for n in range(1, 201)}
    for row in rows.values():
        scheduler.add(row)
    assert len(scheduler._scheduler.get_jobs()) == 1  # one wake-up for them all, at the soonest row's time
    for n in range(1, 201, 2):  # half dropped: their wake-ups are passed over (and the queue kept small)
        scheduler.remove(n)
    await wait_for(lambda: len(woken) == 100)
    await asyncio.sleep(0.2)
    assert sorted(row_id for row_id, _ in woken) == list(range(2, 201, 2))
    assert all(at >= rows[row_id].work.due_at for row_id, at in woken) and scheduler.planned() == {}
    await scheduler.shutdown()


async def test_rows_keep_waking_when_the_loop_is_late_for_each_wake_up():
    woken: list[int] = []

    async def fire(row_id: int) -> None:
        woken.append(row_id)
        time.sleep(0.05)  # a busy loop: the next row's time passes before its wake-up is armed

    scheduler = DueWorkScheduler()
    scheduler.start(fire)
    scheduler.resume()
    for n in range(1, 11):
        scheduler.add(due_in(n, 0.1 + 0.02 * n))
    await wait_for(lambda: len(woken) == 10)
    assert sorted(woken) == list(range(1, 11)) and scheduler.planned() == {}
    await scheduler.shutdown()
