"""The webhook's writes (Store.record_events through the group commit): a duplicate inside a batch, two instances at once, a session's meeting id filled in."""
from __future__ import annotations

import asyncio

import asyncpg.transaction

from bot.core.events import MeetingRef
from bot.storage.store import Store, create_engine, session_id_for
from tests.bot.core.builders import CLIENT, MEETING, at, joined, started
from tests.conftest import storage_keys
from tests.statements import Statements


async def test_a_duplicate_inside_one_batch_is_stored_and_counted_once(store):
    same = ("k-dup", joined(5, CLIENT))
    writes = [  # submitted together: one batch, one statement per table
        store.record_events("t1", MEETING, [("k-start", started()), same], at(10)),
        store.record_events("t1", MEETING, [same], at(10)),  # Zoom's retry of a delivery still being answered
        store.record_events("t1", MEETING, [same, same], at(10)),  # an event twice in one delivery
    ]
    assert await asyncio.gather(*writes) == [2, 0, 0]
    assert len(await store.session_events(MEETING)) == 2


async def test_more_rows_than_one_sqlite_statement_takes_are_all_stored_and_counted(store):
    keyed = [(f"k{n}", joined(n, CLIENT)) for n in range(2500)]  # three statements' worth on SQLite (event_rows.py)
    first, again = await asyncio.gather(
        store.record_events("t1", MEETING, keyed + keyed[:3], at(10)),  # three of them twice, in the same delivery
        store.record_events("t1", MEETING, keyed[-5:], at(10)),
    )
    assert (first, again) == (2500, 0)
    assert len(await store.session_events(MEETING)) == 2500


async def test_two_instances_storing_the_same_deliveries_store_each_event_once(storage_url):
    engines = [create_engine(storage_url) for _ in range(2)]
    stores = [Store(engine, storage_keys()) for engine in engines]
    try:
        await stores[0].upgrade()
        keyed = [(f"k{n}", joined(n, CLIENT)) for n in range(20)]
        writes = [s.record_events("t1", MEETING, [pair], at(30)) for pair in keyed for s in stores]  # each delivered to both
        assert sum(await asyncio.gather(*writes)) == 20
        assert len(await stores[1].session_events(MEETING)) == 20
        assert [row.id for row in await stores[0].sessions("t1")] == [session_id_for("zoom", MEETING.occurrence_id)]
    finally:
        for s in stores:
            await s.close()
        for engine in engines:
            await engine.dispose()


async def test_a_session_first_stored_without_its_meeting_id_gets_it_later(store):
    nameless = MeetingRef(MEETING.platform, MEETING.occurrence_id, "", MEETING.host_id)
    await store.record_events("t1", nameless, [("k-start", started())], at(0))
    await store.record_events("t1", MEETING, [("k-join", joined(5, CLIENT))], at(5))
    row = await store.session(session_id_for("zoom", MEETING.occurrence_id))
    assert row is not None and row.meeting_id == MEETING.meeting_id


async def test_a_batch_with_a_new_session_is_written_in_one_statement(store, trips, monkeypatch):
    # One round trip for the session's row (its meeting id filled in if it lacked one) and the events: on PostgreSQL one
    # statement, committed as it runs (no BEGIN, no COMMIT); on SQLite one trip to the connection's thread, with the commit.
    begun = []
    start = asyncpg.transaction.Transaction.start

    async def counted(transaction):
        begun.append(transaction)
        await start(transaction)

    monkeypatch.setattr(asyncpg.transaction.Transaction, "start", counted)
    nameless = MeetingRef(MEETING.platform, MEETING.occurrence_id, "", MEETING.host_id)
    await store.record_events("t1", nameless, [("k-start", started())], at(0))
    trips[0] = 0
    with Statements(store.engine) as sent:
        await store.record_events("t1", MEETING, [("k-join", joined(5, CLIENT))], at(5))
    if store.engine.dialect.name == "sqlite":
        assert sent == [] and trips[0] == 1
    else:
        assert sent == ["WITH sessions_written AS"] and begun == []
