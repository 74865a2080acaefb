"""Stream leases on SQLite and PostgreSQL: one holder at a time, renewed while held, taken once lapsed, and fencing."""
from __future__ import annotations

import asyncio

import pytest

from bot.core.events import VideoStateChanged
from bot.storage.store import session_id_for
from bot.storage.stream_leases import Lease, LeaseLost, StreamLeases, holds
from tests.bot.core.builders import CLIENT, MEETING, at

SESSION = session_id_for(MEETING.platform, MEETING.occurrence_id)
LONG = 60.0
LAPSED = 0.0  # a lease of no length has lapsed as soon as it is taken: no waiting on the clock


def camera(second: int, on: bool) -> list[tuple[str, VideoStateChanged]]:
    return [(f"cam-{second}", VideoStateChanged(meeting=MEETING, at=at(second), participant=CLIENT, on=on))]


async def test_a_stream_is_held_by_one_instance_until_it_lapses_then_the_next_epoch_is_another_s(store):
    a, b = StreamLeases(store.engine, "host-1-a"), StreamLeases(store.engine, "host-2-b")
    first = await a.take(SESSION, LONG)
    assert first == Lease(SESSION, "host-1-a", 1)
    assert await b.take(SESSION, LONG) is None  # a live holder is left alone
    assert await a.renew([first], LAPSED) == [first]  # renewed while held (here: to lapse at once)
    assert await b.unheld([SESSION, "s-never-taken"]) == [SESSION, "s-never-taken"]
    second = await b.take(SESSION, LONG)
    assert second == Lease(SESSION, "host-2-b", 2)
    assert await a.renew([first], LONG) == []  # taken: the former holder learns it lost the stream
    assert await a.take(SESSION, LONG) is None and await b.unheld([SESSION]) == []


async def test_a_released_lease_is_taken_at_once_and_its_epoch_counts_on(store):
    a, b = StreamLeases(store.engine, "host-1-a"), StreamLeases(store.engine, "host-2-b")
    held = await a.take(SESSION, LONG)
    assert held is not None
    await b.release(Lease(SESSION, "host-2-b", 1))  # not b's: nothing happens
    assert await b.take(SESSION, LONG) is None
    await a.release(held)
    assert await b.take(SESSION, LONG) == Lease(SESSION, "host-2-b", 2)


async def test_the_sole_instance_takes_a_stream_whoever_held_it(store):
    """SQLite has one instance: a lease left by its previous process (killed) never keeps it waiting."""
    await StreamLeases(store.engine, "host-1-before").take(SESSION, LONG)
    assert await StreamLeases(store.engine, "host-1-after", sole=True).take(SESSION, LONG) == Lease(SESSION, "host-1-after", 2)


async def test_a_former_holders_camera_changes_are_refused_and_the_holders_stored(store):
    a, b = StreamLeases(store.engine, "host-1-a"), StreamLeases(store.engine, "host-2-b")
    first = await a.take(SESSION, LAPSED)
    assert first is not None
    assert await store.record_held_events("t1", MEETING, camera(120, False), at(121), first) == 1
    second = await b.take(SESSION, LONG)
    assert second is not None
    with pytest.raises(LeaseLost):
        await store.record_held_events("t1", MEETING, camera(300, True), at(301), first)
    assert await store.record_held_events("t1", MEETING, camera(400, True), at(401), second) == 1
    assert [(e.at, e.on) for e in await store.session_events(MEETING) if isinstance(e, VideoStateChanged)] == [(at(120), False), (at(400), True)]


async def test_a_takeover_waits_for_the_holders_write_in_progress(storage_url, store):
    """PostgreSQL: the write holds the lease row shared, so a takeover's update comes after it, never between check and insert."""
    if not storage_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: the check and the insert are one IMMEDIATE transaction")
    a, b = StreamLeases(store.engine, "host-1-a"), StreamLeases(store.engine, "host-2-b")
    first = await a.take(SESSION, LAPSED)
    assert first is not None
    async with store.engine.begin() as conn:
        assert await holds(conn, first)
        taking = asyncio.ensure_future(b.take(SESSION, LONG))
        await asyncio.sleep(0.3)
        assert not taking.done()  # waits on the shared row
    assert await taking == Lease(SESSION, "host-2-b", 2)
