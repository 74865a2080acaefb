"""The APScheduler wiring: jobs persist in the database, wake at their time, and survive a restart."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from bot.core.due_work import DueRow, DueWork
from bot.timekeeping.scheduler import DueWorkScheduler, sync_url


@pytest.mark.parametrize(
    "storage,expected",
    [
        ("sqlite+aiosqlite:///var/lib/companion.db", "sqlite:///var/lib/companion-jobs.db"),
        ("sqlite+aiosqlite:////srv/data/c.sqlite3", "sqlite:////srv/data/c-jobs.sqlite3"),
        ("postgresql+asyncpg://companion:s3cret@db:5432/companion", "postgresql+psycopg2://companion:s3cret@db:5432/companion"),
    ],
)
def test_the_job_store_url_is_derived_from_the_storage_url(storage, expected):
    assert sync_url(storage) == expected


def due_in(row_id: int, seconds: float) -> DueRow:
    return DueRow(row_id, DueWork(f"k{row_id}", "test", datetime.now(timezone.utc) + timedelta(seconds=seconds), "t1"))


async def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_stored_jobs_survive_a_scheduler_restart_and_each_wakes_once(storage_url):
    woken: list[tuple[int, datetime]] = []

    async def fire(row_id: int) -> None:
        woken.append((row_id, datetime.now(timezone.utc)))

    first = DueWorkScheduler(storage_url)
    first.start(fire)
    soon, later, dropped = due_in(1, 0.4), due_in(2, 3600), due_in(3, 0.1)
    for row in (soon, later, dropped):
        first.add(row)
    first.remove(dropped.id)
    first.resume()
    await first.shutdown()
    await asyncio.sleep(0.05)  # AsyncIOScheduler shuts down on the loop's next turn

    second = DueWorkScheduler(storage_url)
    second.start(fire)
    assert sorted(job_id for job_id, _ in second.pending_jobs()) == ["due:1", "due:2"]
    second.resume()
    await wait_for(lambda: woken)
    await asyncio.sleep(0.3)
    assert [row_id for row_id, _ in woken] == [1]
    assert woken[0][1] >= soon.work.due_at
    second.keep_only([later])
    assert [job_id for job_id, _ in second.pending_jobs()] == ["due:2"]
    await second.shutdown()
    await asyncio.sleep(0.05)


async def test_a_job_that_came_due_while_stopped_wakes_at_once_on_start(sqlite_url):
    woken: list[int] = []

    async def fire(row_id: int) -> None:
        woken.append(row_id)

    first = DueWorkScheduler(sqlite_url)
    first.start(fire)
    first.add(due_in(7, -3600))  # an hour overdue: misfire_grace_time None runs it anyway
    await first.shutdown()
    await asyncio.sleep(0.05)
    second = DueWorkScheduler(sqlite_url)
    second.start(fire)
    second.resume()
    await wait_for(lambda: woken)
    await asyncio.sleep(0.2)
    assert woken == [7] and second.pending_jobs() == []
    await second.shutdown()
    await asyncio.sleep(0.05)
