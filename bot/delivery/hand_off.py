"""Hand each notice raised here to its channels' workers at once, and start, stop and drain the workers together."""
from __future__ import annotations

import asyncio
from typing import Callable, Sequence

from bot.storage.notices import NoticeRow
from bot.tracking.notice_board import NoticeBoard

from .workers import ChannelWorker


class Deliveries:
    """This instance's channel workers, handed each notice raised here as it is stored."""

    def __init__(
        self, workers: list[ChannelWorker], board: NoticeBoard, channels_for: Callable[[str, str], Sequence[str]] | None = None
    ) -> None:
        self.workers = {worker.channel: worker for worker in workers}
        self._board = board
        self._channels_for = channels_for  # (therapist id, kind): the channels its rows were written for; None: every one
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start every worker, and take the notices raised from now on."""
        self._tasks = [asyncio.create_task(w.run(), name=f"delivery-{w.channel}") for w in self.workers.values()]
        self._board.add_handler(self.hand)

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop claiming, let sends in flight finish within the grace time, then stop."""
        self._board.remove_handler(self.hand)
        for worker in self.workers.values():
            worker.stopping()
        if self._tasks:  # a worker in the middle of a claim finishes it: a cancelled write could keep a lock
            await asyncio.wait(self._tasks, timeout=grace_seconds)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(w.stop(grace_seconds) for w in self.workers.values()))

    def hand(self, notice: NoticeRow) -> None:
        """Give a notice just stored to the workers of its channels (its rows are the truth; this only saves the wait)."""
        channels = self._channels_for(notice.therapist_id, notice.kind) if self._channels_for else self.workers
        for channel in channels:
            if (worker := self.workers.get(channel)) is not None:
                worker.hand(notice)

    def wake(self) -> None:
        """Have every worker look for due deliveries now (after a clock jump, a restart, ...)."""
        for worker in self.workers.values():
            worker.wake()

    async def drain(self) -> None:
        """Wait until no channel has anything due now or in flight."""
        await asyncio.gather(*(w.drain() for w in self.workers.values()))
