"""The outbox in the database (SQLite and PostgreSQL): written with the notice, claimed once, guarded."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.exc import IntegrityError

from bot.core.timefmt import to_stamp
from bot.storage import schema
from bot.storage.outbox import Outbox
from bot.storage.store import Store, create_engine
from tests.conftest import storage_keys
from tests.statements import Statements

NOW = datetime(2025, 3, 4, 15, 0, tzinfo=timezone.utc)
LEASE = timedelta(minutes=2)


@pytest.fixture
async def store(storage_url):
    store = Store(create_engine(storage_url), storage_keys(), lambda _therapist_id, _kind: ("dashboard", "zoom_chat"))
    await store.upgrade()
    yield store
    await store.engine.dispose()


async def notice(store, n, session="s1", kind="third_party_joined", at=NOW):
    return await store.raise_notice("t1", session, kind, f"{session}:{n}", at, f"notice {n}", at)


async def count(store, table):
    async with store.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_a_notice_and_its_deliveries_are_written_together_or_not_at_all(store):
    row = await notice(store, 1)
    assert await Outbox(store.engine).states([row.id]) == {row.id: {"dashboard": "pending", "zoom_chat": "pending"}}
    assert await notice(store, 1) is None and await count(store, schema.deliveries) == 2
    broken = Store(store.engine, storage_keys(), lambda _therapist_id, _kind: ("zoom_chat", "zoom_chat"))
    with pytest.raises(IntegrityError):  # a delivery that cannot be written takes its notice with it
        await notice(broken, 2)
    assert await count(store, schema.notices) == 1 and await count(store, schema.deliveries) == 2


async def test_concurrent_claims_never_share_a_delivery(store):
    for n in range(30):
        await notice(store, n, session=f"s{n}")
    outbox = Outbox(store.engine)
    batches = await asyncio.gather(*(outbox.claim_due("zoom_chat", NOW, 30, LEASE) for _ in range(4)))
    claimed = [d.notice.id for batch in batches for d in batch]
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 30
    assert await outbox.claim_due("zoom_chat", NOW, 30, LEASE) == []


async def test_claims_go_one_at_a_time_per_session_in_order_and_a_lost_claim_changes_nothing(store):
    first, second, other = await notice(store, 1), await notice(store, 2), await notice(store, 3, session="s2")
    outbox = Outbox(store.engine)
    claimed = await outbox.claim_due("zoom_chat", NOW, 10, LEASE)
    assert [d.notice.id for d in claimed] == [first.id, other.id] and claimed[0].attempts == 1
    assert await outbox.claim_due("zoom_chat", NOW, 10, LEASE) == []
    assert await outbox.finish(claimed[1], "sent", NOW)
    # The lease lapses (the worker died): another worker takes the row; the first one's claim is void.
    (again,) = await outbox.claim_due("zoom_chat", NOW + LEASE + timedelta(seconds=1), 1, LEASE)
    assert again.notice.id == first.id and again.attempts == 2
    assert not await outbox.finish(claimed[0], "sent", NOW)
    assert await outbox.finish(again, "sent", NOW)
    (nxt,) = await outbox.claim_due("zoom_chat", NOW + LEASE + timedelta(seconds=1), 10, LEASE)
    assert nxt.notice.id == second.id


async def test_a_retry_waits_for_its_time_and_holds_back_the_sessions_later_notices(store):
    first, second = await notice(store, 1), await notice(store, 2)
    outbox = Outbox(store.engine)
    (claimed,) = await outbox.claim_due("zoom_chat", NOW, 10, LEASE)
    assert await outbox.retry_at(claimed, NOW + timedelta(seconds=30), NOW, "http_429")
    assert await outbox.claim_due("zoom_chat", NOW + timedelta(seconds=29), 10, LEASE) == []
    (retried,) = await outbox.claim_due("zoom_chat", NOW + timedelta(seconds=30), 10, LEASE)
    assert retried.notice.id == first.id and retried.attempts == 2
    assert await outbox.finish(retried, "failed", NOW, "http_429")
    (after,) = await outbox.claim_due("zoom_chat", NOW + timedelta(seconds=30), 10, LEASE)
    assert after.notice.id == second.id


async def test_the_dashboard_is_marked_delivered_once(store):
    row = await notice(store, 1)
    outbox = Outbox(store.engine)
    assert await outbox.mark_all_delivered([row.id], "dashboard", NOW) == 1
    assert await outbox.mark_all_delivered([row.id], "dashboard", NOW) == 0
    assert (await outbox.states([row.id]))[row.id]["dashboard"] == "sent"


async def test_a_database_from_before_the_outbox_gains_it_on_upgrade(storage_url):
    engine = create_engine(storage_url)
    async with engine.begin() as conn:
        later = (schema.deliveries, schema.session_listing, schema.stream_leases)  # the outbox's table, and those revisions after version 9 make
        await conn.run_sync(lambda c: [t.create(c) for t in schema.metadata.sorted_tables if t not in later])
        await conn.execute(text("DROP INDEX ix_sessions_listed"))  # made by a revision after version 9, too
        await conn.execute(schema.schema_version.insert().values(version=2))
    store = Store(engine, storage_keys(), lambda _therapist_id, _kind: ("dashboard",))
    assert (await store.upgrade()).version_before == 2
    assert await Outbox(engine).states([(await notice(store, 1)).id])
    await engine.dispose()


async def test_a_batch_is_claimed_in_one_statement_and_notices_handed_over_are_not_read_back(store):
    rows = [await notice(store, n, session=f"s{n}") for n in range(5)]
    outbox = Outbox(store.engine)
    with Statements(store.engine) as sent:
        handed = await outbox.claim_due("zoom_chat", NOW, 3, LEASE, {row.id: row for row in rows})
    assert [s for s in sent if not s.startswith(("BEGIN", "COMMIT"))] == ["WITH due AS"]  # the claiming UPDATE
    assert [d.notice for d in handed] == rows[:3] and len({d.claim for d in handed}) == 1
    with Statements(store.engine) as sent:  # raised elsewhere: its notices are read, in one more statement
        found = await outbox.claim_due("zoom_chat", NOW, 10, LEASE)
    assert [s for s in sent if not s.startswith(("BEGIN", "COMMIT"))] == ["WITH due AS", "SELECT notices.id, notices.therapist_id,"]
    assert [d.notice for d in found] == rows[3:]


async def test_sends_finished_together_are_recorded_in_one_statement_and_a_lost_claim_among_them_changes_nothing(store):
    for n in range(6):
        await notice(store, n, session=f"s{n}")
    outbox = Outbox(store.engine)
    claimed = await outbox.claim_due("zoom_chat", NOW, 10, LEASE)
    later = NOW + LEASE + timedelta(seconds=1)
    (taken,) = await outbox.claim_due("zoom_chat", later, 1, LEASE)  # the first's lease ran out: another worker took it
    with Statements(store.engine) as sent:
        results = await asyncio.gather(
            *(outbox.finish(d, "sent", later) for d in claimed[:4]),
            outbox.finish(claimed[4], "failed", later, "http_400"),
            outbox.retry_at(claimed[5], later + timedelta(seconds=30), later, "http_503"),
        )
    assert results == [False, True, True, True, True, True]
    assert [s for s in sent if s.startswith("UPDATE")] == ["UPDATE deliveries SET"]
    async with store.engine.connect() as conn:
        rows = {r.notice_id: r for r in (await conn.execute(select(schema.deliveries).where(schema.deliveries.c.channel == "zoom_chat"))).all()}
    states = [(rows[d.notice.id].state, rows[d.notice.id].last_error, rows[d.notice.id].claim) for d in claimed]
    assert states == [("sending", None, taken.claim)] + [("sent", None, None)] * 3 + [("failed", "http_400", None), ("pending", "http_503", None)]
    assert rows[claimed[5].notice.id].next_attempt_at == to_stamp(later + timedelta(seconds=30))
    assert rows[claimed[1].notice.id].updated_at == to_stamp(later)
    assert await outbox.finish(taken, "sent", later)
    await outbox.close()


async def test_notices_raised_at_once_are_written_in_two_statements_each_key_once(store):
    before = await notice(store, 0)
    with Statements(store.engine) as sent:
        rows = await asyncio.gather(*(notice(store, n) for n in (0, 1, 2, 3, 2, 4)))  # 0 raised before, 2 twice now
    assert [s for s in sent if s.startswith("INSERT")] == ["INSERT INTO notices", "INSERT INTO deliveries"]
    assert [r.key if r else None for r in rows] == [None, "s1:1", "s1:2", "s1:3", None, "s1:4"]
    assert sorted(r.id for r in rows if r) == [r.id for r in rows if r] and rows[1].id > before.id
    states = await Outbox(store.engine).states(r.id for r in rows if r)
    assert set(map(len, states.values())) == {2} and await count(store, schema.deliveries) == 2 * 5


async def test_a_claims_bursts_are_read_in_one_statement(store):
    outbox = Outbox(store.engine)
    minute = timedelta(minutes=1)
    # s1: sent, then one 30 s on (carried by the one sent). s2: one, and a later one waiting (carried by that).
    # s3: one sent two minutes before (too long ago). s4: another kind of notice, never coalesced.
    await notice(store, 0, "s1", "client_video_off", NOW - minute / 2)
    await notice(store, 0, "s3", "client_video_off", NOW - 2 * minute)
    sent = await outbox.claim_due("zoom_chat", NOW, 10, LEASE)
    assert all([await outbox.finish(d, "sent", NOW) for d in sent]) and len(sent) == 2
    rows = [await notice(store, 1, s, kind) for s, kind in [("s1", "client_video_off"), ("s2", "client_video_off"), ("s3", "client_video_off"), ("s4", "recording_started")]]
    await notice(store, 2, "s2", "client_video_off", NOW + minute / 2)
    claimed = await outbox.claim_due("zoom_chat", NOW, 10, LEASE)
    assert [d.notice.id for d in claimed] == [r.id for r in rows]
    with Statements(store.engine) as statements:
        carried = await outbox.coalesced(claimed, minute)
    assert len(statements) == 1 and carried == {claimed[0].id, claimed[1].id}
    with Statements(store.engine) as statements:  # nothing that coalesces: nothing read
        assert await outbox.coalesced(claimed[3:], minute) == set()
    assert statements == []


async def test_a_claim_on_postgresql_starts_no_transaction_its_one_statement_being_one(postgres_url, monkeypatch):
    store = Store(create_engine(postgres_url), storage_keys(), lambda _therapist_id, _kind: ("zoom_chat",))
    await store.upgrade()
    rows = [await notice(store, n, session=f"s{n}") for n in range(4)]
    started = []
    begin = AsyncAdapt_asyncpg_connection._start_transaction

    async def counted(self):
        if self.isolation_level != "autocommit":  # asked of every statement, a BEGIN round trip only outside autocommit
            started.append(self)
        await begin(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "_start_transaction", counted)
    handed = await Outbox(store.engine).claim_due("zoom_chat", NOW, 2, LEASE, {row.id: row for row in rows})
    read_back = await Outbox(store.engine).claim_due("zoom_chat", NOW, 2, LEASE)  # raised elsewhere: its notices read too
    assert [d.notice for d in handed + read_back] == rows and started == []  # neither BEGIN nor COMMIT: two round trips fewer
    await store.engine.dispose()
