"""The lease renewals (integrations/zoom/rtms/holding.py): a holder that cannot renew stops its streams once the lease ran out, not before."""
from __future__ import annotations

import asyncio
from typing import Any, Sequence

from bot.storage.stream_leases import Lease
from integrations.zoom.rtms.holding import StreamHolding

HELD = [Lease("s-one", "host-1-a", 3)]
SECONDS = 0.3


class AwayDatabase:
    """Stream leases whose database does not answer."""

    sole = False

    async def renew(self, leases: Sequence[Lease], seconds: float) -> list[Lease]:
        raise ConnectionRefusedError


async def nothing() -> None:
    return None


async def test_a_holder_that_cannot_renew_stops_its_streams_when_the_lease_has_run_out():
    lost: list[tuple[float, list[Lease]]] = []
    loop = asyncio.get_running_loop()

    async def stop(leases: Sequence[Lease]) -> None:
        lost.append((loop.time(), list(leases)))

    leases: Any = AwayDatabase()
    holding = StreamHolding(leases, SECONDS, lambda: HELD, stop, nothing)
    began = loop.time()
    holding.start()
    try:
        async with asyncio.timeout(5):
            while not lost:
                await asyncio.sleep(0.01)
    finally:
        await holding.stop()
    stopped_at, leases_lost = lost[0]
    assert leases_lost == HELD
    assert SECONDS <= stopped_at - began < 4 * SECONDS  # at the first failed renewal past the lease's end (room for a busy machine)
