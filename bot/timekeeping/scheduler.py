"""Wake up due work at its time with APScheduler 3 in memory: the due_work rows are the truth, planned again at every start or lead."""
from __future__ import annotations

import asyncio
import functools
import heapq
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Iterable

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING

from bot.core.due_work import DueRow

_LOGGER = logging.getLogger(__name__)
Fire = Callable[[int], Awaitable[None]]
CatchUp = Callable[[list[int]], Awaitable[None]]
# One APScheduler job wakes the rows, at the soonest one's time: adding a job cost ~40 us a row (measured), a row queued
# costs a heap push, and the timers of every session judged are planned or moved.
SOONEST_JOB = "due-rows"
# Rows carried out at once: after a restart hundreds may be overdue, and each judges a session and
# writes; a few at a time keep the loop answering and the database's queue short.
AT_ONCE = 8
# misfire_grace_time None: a wake-up late because the loop was busy still runs; our row decides what late means.
# coalesce: a repeating job that missed several runs runs once, not once per missed run.
JOB_DEFAULTS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}


class DueWorkScheduler:
    """One in-memory AsyncIOScheduler per service: a wake-up per pending row (queued, one job at the soonest), and the housekeeping jobs."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()
        self._planned: dict[int, datetime] = {}  # row id -> the due time it wakes at
        self._queue: list[tuple[datetime, int]] = []  # (when, row id), soonest first: a heap of wake-ups
        self._queued: dict[int, datetime] = {}  # row id -> its one live wake-up in the queue (not after its due time)
        self._wakes_at: datetime | None = None  # when the job wakes next (None: not armed)
        self._held: list[int] = []  # overdue rows planned while paused: carried out once resumed
        self._standing_by = False  # paused by `pause`: rows planned meanwhile are another instance's to wake
        self._slots = asyncio.Semaphore(AT_ONCE)
        self._fire: Fire | None = None
        self._catch_up: CatchUp | None = None
        self._scheduler = AsyncIOScheduler(job_defaults=JOB_DEFAULTS, timezone=timezone.utc)
        self._wake = self._tracked(self._woken)
        self._wake_soonest = self._tracked(self._soonest)

    def _tracked(self, func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """Wrap a job so that shutting down can wait for it to finish."""

        @functools.wraps(func)
        async def run(*args: Any) -> Any:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                return await func(*args)
            except asyncio.CancelledError:  # shutting down: the job ends quietly, its row stays pending
                return None
            finally:
                self._running.discard(task)

        return run

    def start(self, fire: Fire, catch_up: CatchUp | None = None) -> None:
        """Start paused: nothing runs until `resume`, so the caller can plan the pending rows first.

        `catch_up`, if given, carries out the rows overdue at `resume` together; else each is fired (a few at a time).
        """
        self._fire, self._catch_up = fire, catch_up
        self._scheduler.start(paused=True)

    def pause(self) -> None:
        """Stop waking anything until `take_rows` and `resume`: every row's wake-up is dropped (the rows stay pending for
        whoever runs them next), the repeating jobs wait, and rows planned meanwhile are not taken. Twice is harmless."""
        self._standing_by = True
        if self._scheduler.state == STATE_RUNNING:
            self._scheduler.pause()
        self._held = []
        for row_id in list(self._planned):
            self.remove(row_id)
        self._queue.clear()
        self._wakes_at = None
        try:
            self._scheduler.remove_job(SOONEST_JOB)
        except JobLookupError:
            pass

    def take_rows(self) -> None:
        """Take rows again after a `pause`, still paused: the caller plans the pending rows, then resumes."""
        self._standing_by = False

    def resume(self) -> None:
        """Run what is planned: the overdue rows at once (caught up together, or a few at a time), the others at their time."""
        self._standing_by = False
        self._scheduler.resume()
        held, self._held = self._held, []
        if held and self._catch_up is not None:
            self._start(self._tracked(self._caught_up)(held))
            return
        for row_id in held:
            self._spawn(row_id)

    async def _caught_up(self, row_ids: list[int]) -> None:
        """Carry out the overdue rows still planned as they were (not dropped or moved later meanwhile) together."""
        now, taken = datetime.now(timezone.utc), []
        for row_id in row_ids:
            due = self._planned.get(row_id)
            if due is not None and due <= now:
                del self._planned[row_id]  # carried out: planning it again (still pending after) wakes it again
                taken.append(row_id)
        if taken and self._catch_up is not None:
            try:
                await self._catch_up(taken)
            except Exception:  # the rows stay pending; the next start or reconcile runs them again
                _LOGGER.exception("catching up %d overdue rows failed", len(taken))

    @property
    def running(self) -> bool:
        """Return whether the scheduler is started (paused at start counts) and not shut down."""
        return bool(self._scheduler.running)

    async def shutdown(self, grace_seconds: float = 5.0) -> None:
        """Stop waking anything up and end the work still running; the rows stay pending for the next start (twice is harmless)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._fire = self._catch_up = None  # rows still waiting for a slot give it up
        # A job still running must end before the database it uses is closed under it: let it finish
        # (a job is a few statements), and cancel only one that is stuck.
        running = list(self._running)
        if running:
            await asyncio.wait(running, timeout=grace_seconds)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def run(self, row_id: int) -> None:
        """Carry out a row now, whatever its time; a failure is logged and the row stays pending."""
        if self._fire is None:
            return
        try:
            await self._fire(row_id)
        except Exception:  # the row stays pending; the next start or reconcile runs it again
            _LOGGER.exception("due work %s failed", row_id)

    async def _woken(self, row_id: int) -> None:
        """Carry out a row whose time has come, once a slot is free, unless it was dropped or moved meanwhile (moved
        later: wake up again then)."""
        async with self._slots:
            due = self._planned.get(row_id)
            if due is None:  # dropped while it waited
                return
            if due > datetime.now(timezone.utc):  # moved later while it waited
                if row_id not in self._queued:
                    self._queue_at(row_id, due)
                return
            del self._planned[row_id]  # carried out: planning it again (still pending after) wakes it again
            await self.run(row_id)

    def add(self, row: DueRow) -> None:
        """Wake up for `row` at its due time (at once if that has passed); a row planned for that time already, or any
        while paused by `pause`, is left alone.

        A row moved later keeps its wake-up: it wakes at the earlier time and is queued again for the row's time then
        (a session's watchdog and settle timers move later at every delivery); it wakes early at most once a queuing.
        """
        due = row.work.due_at
        if self._standing_by or self._planned.get(row.id) == due:
            return
        self._planned[row.id] = due
        now = datetime.now(timezone.utc)
        if due > now:
            if not now < self._queued.get(row.id, due) < due:  # none queued, or one later than the row's time now
                self._queue_at(row.id, due)
            return
        self._queued.pop(row.id, None)
        if self._scheduler.state == STATE_RUNNING:
            self._spawn(row.id)
        else:  # paused (at start): held until resumed
            self._held.append(row.id)

    def _queue_at(self, row_id: int, at: datetime) -> None:
        self._queued[row_id] = at
        heapq.heappush(self._queue, (at, row_id))
        if self._wakes_at is None or at < self._wakes_at:
            self._arm(at)

    def _arm(self, at: datetime) -> None:
        self._wakes_at = at
        # A run re-arms the job before APScheduler counts that run done: with one instance allowed, a next run due by
        # then (a busy loop) would be skipped, and every row after it with it. A run waits for nothing, so runs never
        # interleave: any number may be under way.
        self._scheduler.add_job(
            self._wake_soonest, "date", run_date=at, id=SOONEST_JOB, name="due rows", replace_existing=True, max_instances=1_000
        )

    async def _soonest(self) -> None:
        """Wake up for each row whose time has come (carried out once a slot is free), then arm for the next."""
        self._wakes_at, now = None, datetime.now(timezone.utc)
        while self._queue:
            at, row_id = self._queue[0]
            if self._queued.get(row_id) != at:  # dropped, or queued again sooner
                heapq.heappop(self._queue)
                continue
            if at > now:
                break
            heapq.heappop(self._queue)
            del self._queued[row_id]
            due = self._planned.get(row_id)
            if due is not None and due > now:  # moved later since it was queued: wake up then
                self._queue_at(row_id, due)
            elif due is not None:
                self._spawn(row_id)
        if self._queue and (self._wakes_at is None or self._queue[0][0] < self._wakes_at):
            self._arm(self._queue[0][0])

    def _spawn(self, row_id: int) -> None:
        self._start(self._wake(row_id))

    def _start(self, job: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(job)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def remove(self, row_id: int) -> None:
        """Stop waking up for a row (one not planned is fine)."""
        self._planned.pop(row_id, None)
        self._queued.pop(row_id, None)  # its wake-up left in the queue is passed over
        if len(self._queue) > 2 * len(self._queued) + 64:  # mostly passed over: keep only the live ones
            self._queue = [(at, queued) for queued, at in self._queued.items()]
            heapq.heapify(self._queue)

    def keep_only(self, pending: Iterable[DueRow]) -> None:
        """Stop waking up for rows that are no longer pending."""
        wanted = {row.id for row in pending}
        for row_id in [r for r in self._planned if r not in wanted]:
            self.remove(row_id)

    def every(self, minutes: int, job_id: str, func: Callable[[], Awaitable[Any]], now: bool = True) -> None:
        """Run `func` every `minutes` (and at once if `now`)."""
        first = datetime.now(timezone.utc) + (timedelta(0) if now else timedelta(minutes=minutes))
        self._scheduler.add_job(
            self._tracked(func), "interval", minutes=minutes, id=job_id, name=job_id, replace_existing=True, next_run_time=first,
        )

    def planned(self) -> dict[int, datetime]:
        """Return the rows it will wake up for, with their due times, for checks and tests."""
        return dict(self._planned)
