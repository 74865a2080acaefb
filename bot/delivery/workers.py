"""Deliver the outbox: one worker per channel, several sends at a time, retries on their schedule."""
from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta
from typing import Awaitable, Callable

from bot.core.message import AlertMessage
from bot.core.settings import Therapist
from bot.core.timefmt import from_iso
from bot.metrics import Metrics
from bot.storage.notices import NoticeRow
from bot.storage.outbox import Delivery, Outbox
from bot.tracking.notice_board import DeliveryUpdate, NoticeBoard
from bot.tracking.tracker import Clock

from .retry import DeliveryError, RetryPolicy

_LOGGER = logging.getLogger(__name__)
Send = Callable[[Therapist, AlertMessage], Awaitable[None]]
Compose = Callable[[NoticeRow], Awaitable[AlertMessage]]
COALESCE_WINDOW = timedelta(minutes=1)
# A worker that dies mid-send loses its claim after this long; the row is then sent again.
LEASE = timedelta(minutes=2)
RETRY = RetryPolicy()  # frozen, so every worker can share it


class ChannelWorker:
    """Send one channel's due deliveries; a slow or broken channel only ever holds up itself."""

    def __init__(
        self,
        channel: str,
        send: Send,
        therapist: Callable[[str], Therapist | None],
        compose: Compose,
        outbox: Outbox,
        board: NoticeBoard,
        clock: Clock,
        policy: RetryPolicy = RETRY,
        concurrency: int = 16,
        poll_seconds: float = 1.0,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.channel = channel
        self._metrics = metrics or Metrics()
        self._send, self._therapist, self._compose = send, therapist, compose
        self._outbox, self._board, self._clock = outbox, board, clock
        self._policy, self._concurrency, self._poll = policy, concurrency, poll_seconds
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()
        self._passes = self._idle_pass = 0
        self._idle = asyncio.Condition()
        self._stopping = False

    def wake(self) -> None:
        """Look for due deliveries now rather than at the next poll."""
        self._wake.set()

    async def drain(self) -> None:
        """Wait until nothing of this channel is due now and nothing is being sent."""
        target = self._passes + 1
        self.wake()
        async with self._idle:
            await self._idle.wait_for(lambda: self._idle_pass >= target)

    async def run(self) -> None:
        """Claim and send due deliveries until `stop` (between passes, never in the middle of a claim)."""
        while not self._stopping:
            self._wake.clear()
            self._passes += 1
            this_pass, claimed = self._passes, 0
            free = self._concurrency - len(self._sending)
            if free > 0:
                try:
                    due = await self._outbox.claim_due(self.channel, self._clock(), free, LEASE)
                except Exception:  # the database is away: try again at the next poll
                    _LOGGER.exception("claiming %s deliveries failed", self.channel)
                    due = []
                claimed = len(due)
                for delivery in due:
                    task = asyncio.create_task(self._deliver(delivery), name=f"deliver-{self.channel}-{delivery.id}")
                    self._sending.add(task)
                    task.add_done_callback(self._sent)
            if not claimed and not self._sending:
                async with self._idle:
                    self._idle_pass = this_pass
                    self._idle.notify_all()
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll)
            except asyncio.TimeoutError:
                pass

    def stopping(self) -> None:
        """Stop claiming after the pass under way."""
        self._stopping = True
        self._wake.set()

    async def stop(self, grace_seconds: float) -> None:
        """Let sends in flight finish (within the grace time), then cancel what is left."""
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=grace_seconds)
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:  # the row keeps its claim until the lease lapses
            _LOGGER.error("recording a %s delivery failed: %s", self.channel, type(task.exception()).__name__)
        self.wake()  # a finished send may let the same session's next notice go

    async def _deliver(self, delivery: Delivery) -> None:
        notice = delivery.notice
        try:
            if await self._outbox.coalesced(delivery, COALESCE_WINDOW):
                await self._finish(delivery, "coalesced")
                return
            therapist = self._therapist(notice.therapist_id)
            if therapist is None:
                raise DeliveryError("no_therapist", False)
            await self._send(therapist, await self._compose(notice))
        except DeliveryError as err:
            await self._failed(delivery, err)
        except Exception:  # a bug or an outage we did not foresee: retry on the same schedule
            _LOGGER.exception("delivering notice %s by %s failed", notice.id, self.channel)
            await self._failed(delivery, DeliveryError("error", True))
        else:
            await self._finish(delivery, "sent")

    async def _failed(self, delivery: Delivery, err: DeliveryError) -> None:
        delay = self._policy.delay(delivery.attempts, err, self._rng)
        if delay is None:
            _LOGGER.warning("notice %s not delivered by %s: %s", delivery.notice.id, self.channel, err.code)
            await self._finish(delivery, "failed", err.code)
            return
        now = self._clock()
        _LOGGER.info("notice %s by %s: %s, retry in %.1f s", delivery.notice.id, self.channel, err.code, delay)
        if await self._outbox.retry_at(delivery, now + timedelta(seconds=delay), now, err.code):
            self._metrics.deliveries.labels(self.channel, "retried").inc()

    async def _finish(self, delivery: Delivery, state: str, error: str | None = None) -> None:
        now = self._clock()
        if await self._outbox.finish(delivery, state, now, error):
            self._metrics.deliveries.labels(self.channel, state).inc()
            if state == "sent":
                self._metrics.delivery_seconds.labels(self.channel).observe(max(0.0, (now - from_iso(delivery.notice.raised_at)).total_seconds()))
            self._board.publish_delivery(DeliveryUpdate(delivery.notice.id, delivery.notice.therapist_id, self.channel, state))
        else:
            _LOGGER.warning("notice %s by %s: claim lost before it was marked %s", delivery.notice.id, self.channel, state)


class Deliveries:
    """This instance's channel workers, woken whenever a notice is raised."""

    def __init__(self, workers: list[ChannelWorker], board: NoticeBoard) -> None:
        self.workers = {worker.channel: worker for worker in workers}
        self._board = board
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start every worker, and one task that wakes them when a notice is raised."""
        self._tasks = [asyncio.create_task(w.run(), name=f"delivery-{w.channel}") for w in self.workers.values()]
        self._tasks.append(asyncio.create_task(self._wake_on_notices(), name="delivery-wake"))

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop claiming, let sends in flight finish within the grace time, then stop."""
        for worker in self.workers.values():
            worker.stopping()
        runners = self._tasks[:-1]  # the last task only wakes them
        if runners:  # a worker in the middle of a claim finishes it: a cancelled write could keep a lock
            await asyncio.wait(runners, timeout=grace_seconds)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(w.stop(grace_seconds) for w in self.workers.values()))

    def wake(self) -> None:
        """Have every worker look for due deliveries now (after a clock jump, a restart, ...)."""
        for worker in self.workers.values():
            worker.wake()

    async def drain(self) -> None:
        """Wait until no channel has anything due now or in flight."""
        await asyncio.gather(*(w.drain() for w in self.workers.values()))

    async def _wake_on_notices(self) -> None:
        queue = self._board.listen()
        try:
            while True:
                if isinstance(await queue.get(), NoticeRow):
                    self.wake()
        finally:
            self._board.unlisten(queue)
