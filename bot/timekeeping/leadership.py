"""Run the due work on one instance at a time: the one whose cluster link holds the leader's advisory lock."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from bot.storage.cluster_link import ClusterLink, lock_key
from bot.storage.due_store import DUE_CHANNEL

from .scheduler import DueWorkScheduler
from .timekeeper import Timekeeper

_LOGGER = logging.getLogger(__name__)
LEADER_LOCK = lock_key("session-companion leader")
Housekeeping = Callable[[], Awaitable[None]]
Recover = Callable[[], Awaitable[None]]


class Leadership:
    """Lead (run the scheduler) or stand by (write rows only, others wake them).

    On SQLite (no cluster link) the one instance leads from the start. On PostgreSQL an instance leads while its
    link holds the leader's lock: tried once linked and every `failover_seconds / 3` while another holds it, and
    given up the moment the link is lost. The leader hears the rows written elsewhere on `companion_due`.
    """

    def __init__(
        self, timekeeper: Timekeeper, scheduler: DueWorkScheduler, cluster: ClusterLink | None,
        failover_seconds: float, housekeeping: Housekeeping, instance: str, recover: Recover | None = None,
    ) -> None:
        self._timekeeper, self._scheduler, self._cluster = timekeeper, scheduler, cluster
        self._every = failover_seconds / 3
        self._housekeeping = housekeeping
        self._instance = instance
        # Judges what a dead instance may have stored and not judged: run on taking the lead from another, and when
        # the leader sees an instance's link gone (not on leading from the start: the start judges recent sessions).
        self._recover = recover
        self._stood_by = False  # this instance tried for the lead and another held it, or it lost it
        self._members: set[str] = set()  # the instances linked when the leader last looked
        self.leader = False  # the scheduler runs here
        self._taking = False  # planning the rows: leading, or about to
        self._term = 0  # links lost so far: a lead begun before a loss must not resume the scheduler after it
        self._try_now = asyncio.Event()
        self._tried = asyncio.Event()
        self._heard: set[int] = set()
        self._following: asyncio.Task[None] | None = None
        self._trying: asyncio.Task[None] | None = None
        if cluster is not None:
            cluster.listen(DUE_CHANNEL, self._heard_rows)
            cluster.when_linked(self._linked)

    @property
    def instances_seen(self) -> frozenset[str]:
        """Return the instances the leader saw linked when it last looked (empty on a follower)."""
        return frozenset(self._members)

    async def start(self) -> None:
        """Lead now on SQLite; on PostgreSQL stand by, and try for the lead once linked and every few seconds after."""
        if self._cluster is None:
            await self._lead(self._term)
            return
        self._scheduler.pause()
        self._trying = asyncio.get_running_loop().create_task(self._keep_trying(), name="leadership")

    async def tried(self, seconds: float) -> None:
        """Wait (`seconds` at most) for the first try for the lead: a lone instance leads once started."""
        try:
            await asyncio.wait_for(self._tried.wait(), seconds)
        except asyncio.TimeoutError:
            _LOGGER.warning("no try for the lead within %.0f s of starting: standing by until linked", seconds)

    async def stop(self) -> None:
        """Stop trying and stand by: shutting down (another instance leads once this one's link is closed)."""
        for task in (self._trying, self._following):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._trying = self._following = None
        self._stand_by()

    async def _keep_trying(self) -> None:
        assert self._cluster is not None
        while True:
            self._try_now.clear()
            if self.leader:
                await self._watch_members()
            elif not self._taking and self._cluster.connected:
                term = self._term
                try:
                    if await self._cluster.try_lock(LEADER_LOCK):
                        await self._lead(term)
                    else:
                        self._stood_by = True
                except Exception:  # the database hiccupped while planning: stand by, and try again
                    _LOGGER.exception("taking the lead failed: trying again in %.1f s", self._every)
                    self._stand_by()
                self._tried.set()
            try:
                await asyncio.wait_for(self._try_now.wait(), self._every)
            except asyncio.TimeoutError:
                pass

    async def _lead(self, term: int) -> None:
        """Plan from the rows, catch up what is overdue, plan today's purge, then run: unless the link was lost meanwhile."""
        self._taking = True
        self._scheduler.take_rows()
        await self._timekeeper.reconcile()  # the overdue ones are caught up together once resumed
        await self._housekeeping()
        if term != self._term:  # lost meanwhile: `_linked` has stood by already
            return
        self.leader = True
        self._scheduler.resume()
        _LOGGER.info("instance %s leads: it runs the due work", self._instance)
        if self._cluster is not None:
            self._members = await self._cluster.members() or set()
        if self._stood_by and self._recover is not None:  # the last leader may have died between storing and judging
            await self._recover()

    async def _watch_members(self) -> None:
        """Judge what may be left unjudged when an instance's link is gone (it died, or lost the database)."""
        assert self._cluster is not None
        members = await self._cluster.members()
        if members is None:
            return
        gone, self._members = self._members - members, members
        if gone and self._recover is not None:
            _LOGGER.warning("%d instance(s) gone (%s): judging the recent sessions they may have left unjudged", len(gone), ", ".join(sorted(gone)))
            try:
                await self._recover()
            except Exception:  # the next event of each session judges it
                _LOGGER.exception("judging what a gone instance left failed")

    async def _linked(self, linked: bool) -> None:
        if linked:
            self._try_now.set()
            return
        self._term += 1
        self._stood_by = True
        if self.leader:
            _LOGGER.warning("instance %s lost its cluster link, and so the lead: standing by", self._instance)
        self._stand_by()

    def _stand_by(self) -> None:
        """Wake nothing from now on (rows left pending, repeating jobs held), at once."""
        self.leader = self._taking = False
        self._heard.clear()
        self._members = set()
        self._scheduler.pause()

    def _heard_rows(self, payload: str) -> None:
        if not self._taking:  # the leader plans them
            return
        self._heard.update(int(part) for part in payload.split(",") if part.isdigit())
        if self._heard and (self._following is None or self._following.done()):
            self._following = asyncio.get_running_loop().create_task(self._follow(), name="leadership-follow")

    async def _follow(self) -> None:
        """Plan the rows heard of, a batch at a time (one read each): in turn, so that a later state is never undone."""
        while self._heard:
            row_ids, self._heard = self._heard, set()
            try:
                await self._timekeeper.heard(row_ids)
            except Exception as err:  # the periodic reconcile plans them
                _LOGGER.warning("planning %d row(s) written elsewhere failed (%s)", len(row_ids), type(err).__name__)
