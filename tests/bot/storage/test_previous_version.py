"""A database the previous version wrote is upgraded at start: names, topics and emails out of the clear, notes sealed,
and the summaries as they were (the previous version's pages already showed people by role).

The database comes from tests/fixtures/storage/previous_version.json, which that version's own code wrote
(see make_previous_version.py beside it): its DDL for SQLite and PostgreSQL and every row of every table.
"""
from __future__ import annotations

import hashlib
from datetime import datetime

import pytest
from sqlalchemy import column, inspect, table, text

from bot.storage import schema
from bot.storage.store import create_engine
from bot.storage.upgrades import PRIVATE_AT_REST, UPGRADES
from bot.web import keys
from bot.web.app import create_app
from tests.conftest import TOKEN_A, load_fixture
from tests.fakes.clock import ManualClock
from tests.raw_read import every_value, file_bytes, found

BOT_CALLS = 7  # the version whose upgrade added bot_calls
A = {"Authorization": f"Bearer {TOKEN_A}"}
PREVIOUS = load_fixture("storage/previous_version.json")
NAMES = ["Dr Ruth Therapist", "Sam Client", "Alex Visitor", "Jo Name", "Guest Without Ids"]
EMAILS = ["sam.client@example.net", "ruth@clinic.example.org"]
TOPICS = ["Weekly session", "Session with Jo Name"]
WORDS = ["Talked about the allotment", "his brother Kevin", "Moved to the spare room"]
# What the previous version kept instead of the words: unsalted SHA-256, matchable against a list.
UNSALTED = [hashlib.sha256(e.encode()).hexdigest() for e in EMAILS] + [
    hashlib.sha256(b"name:" + n.casefold().encode()).hexdigest() for n in NAMES
] + [hashlib.sha256(f"name:{n}".encode()).hexdigest()[:16] for n in NAMES]


async def previous_database(storage_url: str, made: dict = PREVIOUS) -> None:
    """Create the previous version's schema with its rows, as that version left them (or another release's, `made`)."""
    engine = create_engine(storage_url)
    dialect = engine.dialect.name
    async with engine.begin() as conn:
        if dialect == "postgresql":
            # A restored database has no one else connected. A connection an earlier test left open here could
            # keep a transaction whose snapshot makes the upgrade's VACUUM FULL keep old row versions.
            await conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        for statement in made["ddl"][dialect]:
            await conn.exec_driver_sql(statement)
        for name, rows in made["rows"].items():
            if rows:
                await conn.execute(table(name, *map(column, rows[0])).insert(), rows)
                if dialect == "postgresql" and isinstance(rows[0].get("id"), int):  # as a dump restores its sequences
                    await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))
    await engine.dispose()


def test_the_fixture_holds_what_the_upgrade_must_remove():
    rows = repr(PREVIOUS["rows"])
    assert not {*NAMES, *TOPICS, *WORDS, *UNSALTED[:2]} - set(found([*NAMES, *TOPICS, *WORDS, *UNSALTED], rows))


async def test_the_previous_versions_database_is_upgraded_at_start(aiohttp_client, make_settings, storage_url):
    await previous_database(storage_url)
    clock = ManualClock(datetime.fromisoformat(PREVIOUS["now"]))
    client = await aiohttp_client(create_app(make_settings(storage_url, clients=[]), clock=clock))
    await client.app[keys.EVALUATION].drain()  # the recent sessions are judged again at start
    for session_id, expected in PREVIOUS["summaries"].items():
        summary = await (await client.get(f"/api/sessions/{session_id}/summary", headers=A)).json()
        assert summary == expected, session_id
    # The clients were matched by keyed digests, re-keyed from the unsalted ones: C-21 by email, C-22 by name.
    assert sorted(s["client_code"] for s in PREVIOUS["summaries"].values()) == ["C-21", "C-22"]
    notices = await client.app[keys.STORE].notices("t1")
    assert sorted(n.key for n in notices) != sorted(r["key"] for r in PREVIOUS["rows"]["notices"])  # a name's key was renamed
    assert len(notices) == len(PREVIOUS["rows"]["notices"])  # and nothing was raised again
    await client.close()
    stored = every_value(storage_url)
    secrets = [*NAMES, *EMAILS, *TOPICS, *WORDS, *UNSALTED]
    assert not found(secrets, stored)
    files = file_bytes(storage_url)  # nor left behind in the files: free pages, old row versions
    assert files is None or not found(secrets, "", files)


async def test_the_upgrade_runs_once(aiohttp_client, make_settings, storage_url):
    await previous_database(storage_url)
    clock = ManualClock(datetime.fromisoformat(PREVIOUS["now"]))
    settings = make_settings(storage_url, clients=[])
    first = await aiohttp_client(create_app(settings, clock=clock))
    await first.close()
    second = await aiohttp_client(create_app(settings, clock=clock))
    for session_id, expected in PREVIOUS["summaries"].items():
        assert await (await second.get(f"/api/sessions/{session_id}/summary", headers=A)).json() == expected


@pytest.mark.parametrize("storage_url", ["sqlite"], indirect=True)
async def test_an_upgrade_with_the_wrong_data_key_afterwards_is_refused(aiohttp_client, make_settings, storage_url):
    await previous_database(storage_url)
    clock = ManualClock(datetime.fromisoformat(PREVIOUS["now"]))
    upgraded = await aiohttp_client(create_app(make_settings(storage_url, clients=[]), clock=clock))
    await upgraded.close()
    other = make_settings(storage_url, clients=[], privacy={"data_key": "YW5vdGhlci1kYXRhLWtleS1vZi0zMi1ieXRlcy1vayE="})
    with pytest.raises(Exception, match="the data key is not the one"):
        await aiohttp_client(create_app(other, clock=clock))


# The released version 7 added the Teams calling bot's calls; a database it upgraded is made private as 8.
BOT_CALL = {
    "session_id": "s-bot", "platform": "teams", "therapist_id": "t1", "meeting_id": "jmeeting", "occurrence_id": "jmeeting@1",
    "host_id": "", "call_id": "call-1", "state": "established", "claimed_until": None, "roster_sequence": 4,
    "participants_read": 1, "result": "", "created_at": "2026-11-20T10:00:00Z", "updated_at": "2026-11-20T10:00:00Z",
}


async def _stamp_main_7(storage_url: str) -> None:
    """Make the previous version's database one that main's version 7 left: bot_calls (with a call) added."""
    engine = create_engine(storage_url)
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: schema.metadata.create_all(c, tables=[schema.bot_calls]))
        await conn.execute(schema.bot_calls.insert().values(**BOT_CALL))
        await conn.execute(schema.schema_version.update().values(version=BOT_CALLS))
    await engine.dispose()


async def _kept(storage_url: str) -> tuple[int, list, list, list | None]:
    """Return the stored version, the events' and notes' rows as kept, and the bot calls (None: no such table)."""
    engine = create_engine(storage_url)
    async with engine.connect() as conn:
        version = (await conn.execute(schema.schema_version.select())).scalar()
        events = (await conn.execute(schema.events.select().order_by(schema.events.c.id))).all()
        notes = (await conn.execute(schema.notes.select().order_by(schema.notes.c.id))).all()
        has_calls = await conn.run_sync(lambda c: inspect(c).has_table(schema.bot_calls.name))
        calls = [dict(c) for c in (await conn.execute(schema.bot_calls.select())).mappings()] if has_calls else None
    await engine.dispose()
    return version, events, notes, calls


def test_main_keeps_its_number_and_privacy_comes_after():
    assert (PRIVATE_AT_REST, len(UPGRADES)) == (8, 9)  # and the stream tickets' table after it


async def test_a_database_mains_code_upgraded_to_7_is_made_private(aiohttp_client, make_settings, storage_url):
    await previous_database(storage_url)
    await _stamp_main_7(storage_url)  # main's 7: bot_calls, and everything in the clear
    clock = ManualClock(datetime.fromisoformat(PREVIOUS["now"]))
    client = await aiohttp_client(create_app(make_settings(storage_url, clients=[]), clock=clock))
    await client.app[keys.EVALUATION].drain()
    for session_id, expected in PREVIOUS["summaries"].items():
        assert await (await client.get(f"/api/sessions/{session_id}/summary", headers=A)).json() == expected, session_id
    await client.close()
    version, _, _, calls = await _kept(storage_url)
    assert version == len(UPGRADES) and calls == [BOT_CALL]
    secrets = [*NAMES, *EMAILS, *TOPICS, *WORDS, *UNSALTED]
    assert not found(secrets, every_value(storage_url))
    files = file_bytes(storage_url)
    assert files is None or not found(secrets, "", files)

