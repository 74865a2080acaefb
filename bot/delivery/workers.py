"""Deliver one channel's part of the outbox: several sends at a time, in order within a session, retries on their schedule.

A notice raised here is handed to the worker in memory as well as stored: it claims the notice's row at once and
does not read the notice back. Rows raised by another instance (or left by a stopped one) are found by polling.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
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
# Sends in flight per channel: different sessions' notices go out side by side. As many as a channel's HTTP session
# opens connections at once (aiohttp's default limit), so that a burst across a practice's sessions is one claim, not
# a claim, sends and their records for every 32 of them in turn (PostgreSQL under load: a quarter second each).
CONCURRENCY = 100
POLL_SECONDS = 1.0  # how often a worker looks for rows it was not handed (another instance's, a retry come due)
HANDED_MAX = 4096  # notices handed over but not yet claimed here (another instance may claim them): the oldest go


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
        concurrency: int = CONCURRENCY,
        poll_seconds: float | None = None,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.channel = channel
        self._metrics = metrics or Metrics()
        self._send, self._therapist, self._compose = send, therapist, compose
        self._outbox, self._board, self._clock = outbox, board, clock
        self._policy, self._concurrency, self._poll = policy, concurrency, POLL_SECONDS if poll_seconds is None else poll_seconds
        self._handed: OrderedDict[int, NoticeRow] = OrderedDict()
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()
        self._passes = self._idle_pass = 0
        self._idle = asyncio.Condition()
        self._stopping = False

    def wake(self) -> None:
        """Look for due deliveries now rather than at the next poll."""
        self._wake.set()

    def hand(self, notice: NoticeRow) -> None:
        """Take a notice just stored with a delivery on this channel: claim it now, without reading the notice back."""
        self._handed[notice.id] = notice
        if len(self._handed) > HANDED_MAX:
            self._handed.popitem(last=False)
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
                    due = await self._outbox.claim_due(self.channel, self._clock(), free, LEASE, self._handed)
                except Exception:  # the database is away: try again at the next poll
                    _LOGGER.exception("claiming %s deliveries failed", self.channel)
                    due = []
                claimed, carried = len(due), await self._carried(due)
                for delivery in due:
                    self._handed.pop(delivery.notice.id, None)
                    task = asyncio.create_task(self._deliver(delivery, delivery.id in carried), name=f"deliver-{self.channel}-{delivery.id}")
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
        # A finished send may let the same session's next notice go: that one was handed over and waits here. A claim
        # with none waiting would find nothing (rows from elsewhere come with the poll), unless this was the last send
        # in flight: then a pass looks once more, and says it is idle if nothing is due.
        if self._handed or not self._sending:
            self.wake()

    async def _carried(self, due: list[Delivery]) -> set[int]:
        """Return the claimed deliveries whose news a like notice's delivery carries (none, if that cannot be read now)."""
        try:
            return await self._outbox.coalesced(due, COALESCE_WINDOW)
        except Exception:  # the database is away: sending them all loses nothing, and none goes out twice
            _LOGGER.exception("reading %s bursts failed", self.channel)
            return set()

    async def _deliver(self, delivery: Delivery, carried: bool) -> None:
        notice = delivery.notice
        try:
            if carried:
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
            self._board.publish_delivery(DeliveryUpdate(delivery.notice.id, delivery.notice.therapist_id, self.channel, state, delivery.id))
        else:
            _LOGGER.warning("notice %s by %s: claim lost before it was marked %s", delivery.notice.id, self.channel, state)
