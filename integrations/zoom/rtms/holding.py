"""Keep this instance's streams' leases: renew them while held, give up those lost, and look for streams no one holds."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Sequence

from bot.storage.stream_leases import Lease, StreamLeases

_LOGGER = logging.getLogger(__name__)
RENEWALS_PER_LEASE = 3  # a holder renews three times a lease: one late renewal does not lose the stream
SWEEPS_PER_LEASE = 2  # every instance looks twice a lease for open streams no live lease holds


class StreamHolding:
    """The renewals of the leases held and the sweep for unheld streams, every `failover_seconds` / 3 and / 2.

    The sole instance (SQLite) sweeps not: no other instance leaves streams behind, its own start-up finds its own.
    """

    def __init__(
        self,
        leases: StreamLeases,
        failover_seconds: float,
        held: Callable[[], Sequence[Lease]],
        lost: Callable[[Sequence[Lease]], Awaitable[None]],
        sweep: Callable[[], Awaitable[None]],
    ) -> None:
        self.leases = leases
        self.seconds = float(failover_seconds)
        self._held, self._lost, self._sweep = held, lost, sweep
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._renewing(), name="rtms-lease-renewals")]
        if not self.leases.sole:
            self._tasks.append(asyncio.create_task(self._sweeping(), name="rtms-lease-sweep"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def renew(self, held: Sequence[Lease]) -> None:
        """Renew the leases; those not renewed as taken were taken by another instance: give them up at once."""
        kept = set(await self.leases.renew(held, self.seconds))
        if gone := [lease for lease in held if lease not in kept]:
            _LOGGER.warning("the leases of %d RTMS stream(s) were taken by another instance (sessions %s): stopping them",
                            len(gone), ", ".join(lease.session_id for lease in gone))
            await self._lost(gone)

    async def _renewing(self) -> None:
        loop = asyncio.get_running_loop()
        renewed_at = loop.time()
        while True:
            await asyncio.sleep(self.seconds / RENEWALS_PER_LEASE)
            asked_at, held = loop.time(), list(self._held())
            try:
                await self.renew(held)
                renewed_at = asked_at  # the lease runs from no earlier than when the renewal was asked
            except Exception as err:  # the database is away: the leases hold until they lapse, not a moment longer
                if loop.time() - renewed_at >= self.seconds and (held := list(self._held())):
                    _LOGGER.error("could not renew RTMS stream leases for %.1f s (%s): stopping the %d stream(s) held",
                                  loop.time() - renewed_at, type(err).__name__, len(held))
                    await self._lost(held)
                else:
                    _LOGGER.warning("could not renew RTMS stream leases (%s): trying again", type(err).__name__)

    async def _sweeping(self) -> None:
        while True:
            await asyncio.sleep(self.seconds / SWEEPS_PER_LEASE)
            try:
                await self._sweep()
            except Exception as err:  # the next sweep looks again
                _LOGGER.warning("looking for RTMS streams no instance holds failed (%s)", type(err).__name__)
