"""Wake up due work at its time with APScheduler 3: a persistent job store, reconciled from our rows."""
from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import make_url

from bot.core.due_work import DueRow
from bot.storage.files import private_file

_LOGGER = logging.getLogger(__name__)
Fire = Callable[[int], Awaitable[None]]
JOB_PREFIX = "due:"
SYNC_DRIVERS = {"sqlite+aiosqlite": "sqlite", "postgresql+asyncpg": "postgresql+psycopg2"}
# A job that came due while the service was down still runs, however late (misfire_grace_time None):
# our row decides what a late run means (a reminder for a meeting already over expires quietly).
# coalesce: a repeating job that missed several runs runs once, not once per missed run.
JOB_DEFAULTS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
# The service that owns each job store, so a job loaded from the database finds the live service.
_SERVICES: dict[str, Fire] = {}


def sync_url(storage_url: str) -> str:
    """Return the job store's synchronous SQLAlchemy URL, derived from the service's async storage URL.

    PostgreSQL: the same database. SQLite: a sibling file (`companion.db` -> `companion-jobs.db`),
    because SQLite has one writer at a time and the job store writes synchronously on the event
    loop: waiting there for the service's own open async transaction would deadlock both.
    """
    url = make_url(storage_url)
    url = url.set(drivername=SYNC_DRIVERS[url.drivername])
    if url.drivername == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        url = url.set(database=str(path.with_name(f"{path.stem}-jobs{path.suffix}")))
    return url.render_as_string(hide_password=False)


async def run_due_work(instance: str, row_id: int) -> None:
    """Carry out a due row in the running service that owns `instance` (every stored job calls this)."""
    fire = _SERVICES.get(instance)
    if fire is None:
        _LOGGER.warning("due work %s woke up with no service running for it", row_id)
        return
    try:
        await fire(row_id)
    except Exception:  # the row stays pending; the next start or reconcile runs it again
        _LOGGER.exception("due work %s failed", row_id)


class DueWorkScheduler:
    """One AsyncIOScheduler per service: due work in a persistent store, housekeeping in memory."""

    def __init__(self, storage_url: str) -> None:
        self.instance = hashlib.sha256(storage_url.encode()).hexdigest()[:16]
        self._running: set[asyncio.Task[Any]] = set()
        jobs_url = sync_url(storage_url)
        jobs_file = make_url(jobs_url).database if jobs_url.startswith("sqlite") else None
        if jobs_file and jobs_file != ":memory:":
            private_file(Path(jobs_file))  # the job store names due rows only, but it is the record's neighbour: 0600 too
        self._scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=jobs_url), "memory": MemoryJobStore()},
            job_defaults=JOB_DEFAULTS,
            timezone=timezone.utc,
        )

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

    def start(self, fire: Fire) -> None:
        """Start paused: nothing runs until `resume`, so the caller can reconcile first."""
        _SERVICES[self.instance] = self._tracked(fire)
        self._scheduler.start(paused=True)

    def resume(self) -> None:
        self._scheduler.resume()

    async def shutdown(self, grace_seconds: float = 5.0) -> None:
        """Stop waking anything up and end the jobs still running; jobs stay in the store for the next start."""
        self._scheduler.shutdown(wait=False)
        _SERVICES.pop(self.instance, None)
        # A job still running must end before the database it uses is closed under it: let it finish
        # (a job is a few statements), and cancel only one that is stuck.
        running = list(self._running)
        if running:
            await asyncio.wait(running, timeout=grace_seconds)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def add(self, row: DueRow) -> None:
        """Wake up for `row` at its due time (at once if that has passed)."""
        self._scheduler.add_job(
            run_due_work,
            "date",
            run_date=row.work.due_at,
            args=[self.instance, row.id],
            id=f"{JOB_PREFIX}{row.id}",
            name=row.work.kind,
            replace_existing=True,
        )

    def remove(self, row_id: int) -> None:
        """Stop waking up for a row (a job already gone is fine)."""
        try:
            self._scheduler.remove_job(f"{JOB_PREFIX}{row_id}", jobstore="default")
        except JobLookupError:
            pass

    def keep_only(self, pending: Iterable[DueRow]) -> None:
        """Drop stored jobs whose rows are no longer pending."""
        wanted = {f"{JOB_PREFIX}{row.id}" for row in pending}
        for job in self._scheduler.get_jobs(jobstore="default"):
            if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
                job.remove()

    def every(self, minutes: int, job_id: str, func: Callable[[], Awaitable[Any]], now: bool = True) -> None:
        """Run `func` every `minutes` (and at once if `now`); kept in memory, as every start adds it again."""
        first = datetime.now(timezone.utc) + (timedelta(0) if now else timedelta(minutes=minutes))
        self._scheduler.add_job(
            self._tracked(func), "interval", minutes=minutes, id=job_id, name=job_id, jobstore="memory",
            replace_existing=True, next_run_time=first,
        )

    def pending_jobs(self) -> list[tuple[str, Any]]:
        """Return the stored jobs as (id, next run time), for checks and tests."""
        return [(job.id, job.next_run_time) for job in self._scheduler.get_jobs(jobstore="default")]
